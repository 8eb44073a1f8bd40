# Stage book: the Jupyter Book (book/, read-only data consumer), built after every result exists.


rule book:
    """Build the Jupyter Book from data/ (book/_build/html): every theorem, figure and claim where it is
    argued, rendered offline with vendored MathJax."""
    input:
        get_book_sources(),
        data=get_results(),
    output:
        "data/book/manifest.json",
    log:
        "logs/book/build.log",
    benchmark:
        "logs/book/build.benchmark.tsv"
    conda:
        "../envs/book.yaml"
    script:
        "../scripts/build_book.py"
