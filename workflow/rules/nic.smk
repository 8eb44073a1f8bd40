# Stage nic: real RDMA NICs, used only when the distribution's pyverbs finds every device named in config.


rule nic_probe:
    """Look for the real RDMA NICs named in config (backends.nic.devices) with the distribution's pyverbs,
    or record why the nic stage is skipped (data/nic/manifest.json)."""
    output:
        "data/nic/manifest.json",
    log:
        "logs/nic/probe.log",
    benchmark:
        "logs/nic/probe.benchmark.tsv"
    params:
        python=config["backends"]["nic"]["python"],
        devices=config["backends"]["nic"]["devices"],
        peer=config["backends"]["nic"]["peer"],
    conda:
        "../envs/shift.yaml"
    script:
        "../scripts/nic_probe.py"
