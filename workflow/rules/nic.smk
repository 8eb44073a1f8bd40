# Stage nic: the real-verbs suite between two hosts (book/runbook.md). With backends.nic.peer set, rule
# twohost_suite runs it between backends.nic.host (default: this machine) and the peer over ssh and writes
# data/<backend>/ in the sim's shapes, backend being `nic` for real NICs or `rxe` for soft-RoCE (checked
# against the devices' driver: soft-RoCE numbers are never labelled nic). nic_probe writes the nic stage's
# manifest: skipped with the reason when there is no peer or the hosts run soft-RoCE, else the suite's status.
from shift_core.realverbs.stage import outputs as twohost_files

TWOHOST = config["backends"]["nic"]


rule twohost_suite:
    """The real-verbs suite between two hosts over ssh (Fig 7, 8b, 9, Table 2, fault-matrix rows, perftest with
    and without libshift.so), written as data/<backend>/ in the sim's shapes plus twohost.json."""
    input:
        sources("realverbs") + sources("verbs") + sources("shift") + sources("kv") + sources("backend"),
        "data/fastpath/manifest.json",  # builds csrc/libshift.so, which the interposer part copies to both hosts
    output:
        [str(p) for p in twohost_files("data", "{backend}")],
    log:
        "logs/{backend}/twohost.log",
    benchmark:
        "logs/{backend}/twohost.benchmark.tsv"
    wildcard_constraints:
        backend="rxe|nic",
    threads: workflow.cores  # wall-clock measurements on the hosts: nothing else from this pipeline beside them
    params:
        nic=TWOHOST,
    conda:
        "../envs/shift.yaml"
    script:
        "../scripts/nic_suite.py"


rule nic_probe:
    """The nic stage's manifest: skipped with the reason when there is no peer or the hosts run soft-RoCE
    (their results are backend rxe), else the two-host suite's status (data/nic/manifest.json)."""
    input:
        [p for p in twohost_outputs(config) if p.endswith("nic/twohost.json")],
    output:
        "data/nic/manifest.json",
    log:
        "logs/nic/probe.log",
    benchmark:
        "logs/nic/probe.benchmark.tsv"
    params:
        peer=TWOHOST["peer"],
        backend=TWOHOST["backend"],
    conda:
        "../envs/shift.yaml"
    script:
        "../scripts/nic_probe.py"
