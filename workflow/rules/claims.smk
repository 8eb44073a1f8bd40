# Stage claims: data/claims.csv, every paper claim beside our sim / rxe / nic values (generated, never edited).


rule claims:
    """Class every paper claim of config/paper_values.yaml against this run's data: reproduced, by
    construction, differs, needs hardware or not run, each with its reason (data/claims.csv, and an HTML view
    of the same rows for the Snakemake report)."""
    input:
        get_stage_outputs(),
        table="config/paper_values.yaml",
    output:
        csv=report("data/claims.csv", caption="../report/claims.rst", category="Claims"),
        html=report("data/claims.html", caption="../report/claims.rst", category="Claims"),
    log:
        "logs/claims/claims.log",
    conda:
        "../envs/shift.yaml"
    script:
        "../scripts/claims.py"
