# Stage build: the C fast path (cffi), the libshift interposer (csrc/) and the fast-path microbenchmark.


rule build_fastpath:
    input:
        get_fastpath_sources(),
    output:
        "data/fastpath/manifest.json",
    log:
        "logs/fastpath/build.log",
    threads: workflow.cores  # the microbenchmark times ns per WR: run it alone
    params:
        microbench=config["fastpath"]["microbench"],
    conda:
        "../envs/shift.yaml"
    script:
        "../scripts/build_fastpath.py"
