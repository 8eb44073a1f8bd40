# Stage theorems: one bounded check per theorem id (shift_core.theorems), then the stage manifest.


rule check_theorem:
    """Run one theorem check of Appendix A (bounded exhaustive search, witnesses, properties, positive
    control) and write its CheckResult records to data/theorems/<check>.json."""
    input:
        sources("theorems"),
        sources("model"),
    output:
        "data/theorems/{check}.json",
    log:
        "logs/theorems/{check}.log",
    benchmark:
        "logs/theorems/{check}.benchmark.tsv"
    conda:
        "../envs/shift.yaml"
    script:
        "../scripts/check_theorem.py"


rule theorems_manifest:
    """Provenance of the theorems stage: every check's status and the stage's measured wall time."""
    input:
        results=expand("data/theorems/{check}.json", check=config["theorems"]["checks"]),
        benchmarks=expand("logs/theorems/{check}.benchmark.tsv", check=config["theorems"]["checks"]),
    output:
        "data/theorems/manifest.json",
    log:
        "logs/theorems/manifest.log",
    conda:
        "../envs/shift.yaml"
    params:
        stage="theorems",
        backend="model",
    script:
        "../scripts/stage_manifest.py"
