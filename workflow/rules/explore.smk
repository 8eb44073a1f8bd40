# Stage explore: the systematic fault exploration of the real SHIFT code on sim (`shift explore`). The single-fault
# exploration runs in every profile; the pair exploration when config explore.pairs is true (the full profile).
# explore_<mode> writes the results; explore_check fails the run when a cell violates config/fault_expectations.yaml
# (a separate rule, so the results that show the violation are kept).

from shift_core.explore import stage as explore_stage


rule explore:
    """Every fault placement (one per run, or every pair) on the real SHIFT code over the sim, judged by the model."""
    input:
        explore_stage.sources(),
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
    """Fail the run when an explored cell's outcomes break config/fault_expectations.yaml."""
    input:
        expand("data/sim/explore/{mode}.json", mode=explore_stage.modes(config)),
    output:
        "data/sim/explore/check.json",
    log:
        "logs/explore/check.log",
    conda:
        "../envs/shift.yaml"
    script:
        "../scripts/explore_check.py"


rule explore_manifest:
    """The explore stage's manifest: provenance, each result's status and the stage's wall time."""
    input:
        expand("data/sim/explore/{mode}.json", mode=explore_stage.modes(config)),
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
