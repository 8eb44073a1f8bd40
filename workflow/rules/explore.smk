# Stage explore: the systematic fault exploration of the real SHIFT code on sim (`shift explore`). The single-fault
# exploration runs in every profile; the pair exploration when config explore.pairs is true (the full profile).
# explore_<mode> writes the results; explore_check fails the run when a cell violates config/fault_expectations.yaml
# (a separate rule, so the results that show the violation are kept).

EXPLORE_MODES = ["single", "pairs"] if config["explore"]["pairs"] else ["single"]


def get_explore_sources():
    """The code behind the exploration: the explorer, the CLI, the workloads and judge, the fabric, the layer."""
    own = [f"shift_core/bench/{name}.py" for name in ("workloads", "judge")] + ["shift_core/cli/explore.py"]
    return own + sources("explore") + sources("fabric") + sources("shift") + sources("kv") + sources("model")


def get_explore_outputs():
    """The exploration's results (added to the stage outputs of common.smk)."""
    return expand(
        "data/sim/explore/{mode}{suffix}", mode=EXPLORE_MODES, suffix=[".json", ".csv", "_coverage.csv"]
    ) + ["data/sim/explore/check.json", "data/sim/explore/manifest.json"]


rule explore:
    input:
        get_explore_sources(),
        expectations="config/fault_expectations.yaml",
    output:
        json="data/sim/explore/{mode}.json",
        csv="data/sim/explore/{mode}.csv",
        coverage="data/sim/explore/{mode}_coverage.csv",
    wildcard_constraints:
        mode="single|pairs",
    log:
        "logs/explore/{mode}.log",
    benchmark:
        "logs/explore/{mode}.benchmark.tsv"
    threads: config["explore"]["processes"]
    params:
        steps=lambda wc: config["explore"]["steps" if wc.mode == "single" else "pair_steps"],
    conda:
        "../envs/shift.yaml"
    script:
        "../scripts/explore.py"


rule explore_check:
    input:
        expand("data/sim/explore/{mode}.json", mode=EXPLORE_MODES),
    output:
        "data/sim/explore/check.json",
    log:
        "logs/explore/check.log",
    conda:
        "../envs/shift.yaml"
    script:
        "../scripts/explore_check.py"


rule explore_manifest:
    input:
        expand("data/sim/explore/{mode}.json", mode=EXPLORE_MODES),
    output:
        "data/sim/explore/manifest.json",
    log:
        "logs/explore/manifest.log",
    params:
        stage="explore",
        backend="sim",
    conda:
        "../envs/shift.yaml"
    script:
        "../scripts/stage_manifest.py"
