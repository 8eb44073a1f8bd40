# Stage boundary: the protocol boundary of paper Table 1 by model checking, and the NCCL CTS share.


rule boundary:
    """Derive paper Table 1 by model checking each protocol (NCCL Simple/LL/LL128, NVSHMEM, MSCCL++) under a
    fault at any packet, and compute NCCL Simple's CTS share of bytes (data/boundary/)."""
    input:
        sources("boundary"),
        sources("model"),
    output:
        boundary="data/boundary/boundary.json",
        cts="data/boundary/cts_share.csv",
        manifest="data/boundary/manifest.json",
    log:
        "logs/boundary/boundary.log",
    benchmark:
        "logs/boundary/boundary.benchmark.tsv"
    conda:
        "../envs/shift.yaml"
    script:
        "../scripts/check_boundary.py"
