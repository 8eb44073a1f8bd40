# Stage theorems: one bounded check per theorem id (shift_core.theorems), then the stage manifest.


rule check_theorem:
    input:
        sources("theorems"),
        sources("model"),
    output:
        "data/theorems/{check}.json",
    log:
        "logs/theorems/{check}.log",
    conda:
        "../envs/shift.yaml"
    script:
        "../scripts/check_theorem.py"


rule theorems_manifest:
    input:
        expand("data/theorems/{check}.json", check=config["theorems"]["checks"]),
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
