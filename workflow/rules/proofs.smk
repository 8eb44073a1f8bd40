# Stage proofs (optional): compile the upstream Rocq development and record Print Assumptions, or say why not.


rule proofs:
    """Compile the upstream Rocq development (config proofs.rocq_path) and record Print Assumptions of its key
    theorems, or why it could not (no coqc, no checkout) in data/proofs/manifest.json."""
    output:
        "data/proofs/manifest.json",
    log:
        "logs/proofs/proofs.log",
    benchmark:
        "logs/proofs/proofs.benchmark.tsv"
    params:
        rocq_path=config["proofs"]["rocq_path"],
        commit=config["proofs"]["commit"],
        theorems=config["proofs"]["theorems"],
    conda:
        "../envs/shift.yaml"
    script:
        "../scripts/proofs.py"
