# Stage build: the C fast path (cffi), the libshift interposer (csrc/) and the fast-path microbenchmark.


rule build_fastpath:
    """Build the C WR log (cffi) and libshift.so, then time the fast path's added ns per WR against a
    stand-in provider (data/fastpath/); runs alone, since ns timings taken under load mean nothing."""
    input:
        get_fastpath_sources(),
    output:
        "data/fastpath/manifest.json",
    log:
        "logs/fastpath/build.log",
    benchmark:
        "logs/fastpath/build.benchmark.tsv"
    threads: workflow.cores  # the microbenchmark times ns per WR: run it alone
    params:
        microbench=config["fastpath"]["microbench"],
    conda:
        "../envs/shift.yaml"
    script:
        "../scripts/build_fastpath.py"
