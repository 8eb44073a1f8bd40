# Stage boundary: the protocol boundary of paper Table 1 by model checking, and the NCCL CTS share.


rule boundary:
    input:
        sources("boundary"),
        sources("model"),
    output:
        boundary="data/boundary/boundary.json",
        cts="data/boundary/cts_share.csv",
        manifest="data/boundary/manifest.json",
    log:
        "logs/boundary/boundary.log",
    conda:
        "../envs/shift.yaml"
    script:
        "../scripts/check_boundary.py"
