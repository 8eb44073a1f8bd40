# Stage proofs (optional): compile the upstream Rocq development and record Print Assumptions, or say why not.


rule proofs:
    output:
        "data/proofs/manifest.json",
    log:
        "logs/proofs/proofs.log",
    params:
        rocq_path=config["proofs"]["rocq_path"],
        commit=config["proofs"]["commit"],
        theorems=config["proofs"]["theorems"],
    conda:
        "../envs/shift.yaml"
    script:
        "../scripts/proofs.py"
