# Stage claims: data/claims.csv, every paper claim beside our sim / rxe / nic values (generated, never edited).


rule claims:
    input:
        get_stage_outputs(),
        table="config/paper_values.yaml",
    output:
        "data/claims.csv",
    log:
        "logs/claims/claims.log",
    conda:
        "../envs/shift.yaml"
    script:
        "../scripts/claims.py"
