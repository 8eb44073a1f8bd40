# Stage book: the Jupyter Book (book/, read-only data consumer), built after every result exists.

rule book:
    input:
        get_book_sources(),
        data=get_results(),
    output:
        "data/book/manifest.json",
    log:
        "logs/book/build.log",
    conda:
        "../envs/book.yaml"
    script:
        "../scripts/build_book.py"
