# Stage figures: one seaborn figure per benchmark, from data/ only.


rule figure:
    input:
        get_figure_input,
    output:
        "data/figures/{fig}.png",
    log:
        "logs/figures/{fig}.log",
    conda:
        "../envs/shift.yaml"
    script:
        "../scripts/figures/{wildcards.fig}.py"


rule figures_manifest:
    input:
        expand("data/figures/{fig}.png", fig=FIGURES),
    output:
        "data/figures/manifest.json",
    log:
        "logs/figures/manifest.log",
    params:
        stage="figures",
        backend="sim",
    conda:
        "../envs/shift.yaml"
    script:
        "../scripts/stage_manifest.py"
