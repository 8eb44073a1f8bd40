# Stage nic: real RDMA NICs, used only when the distribution's pyverbs finds every device named in config.


rule nic_probe:
    output:
        "data/nic/manifest.json",
    log:
        "logs/nic/probe.log",
    params:
        python=config["backends"]["nic"]["python"],
        devices=config["backends"]["nic"]["devices"],
        peer=config["backends"]["nic"]["peer"],
    conda:
        "../envs/shift.yaml"
    script:
        "../scripts/nic_probe.py"
