# Stage figures: one seaborn figure per benchmark, from data/ only. Each figure goes into the Snakemake report
# (`snakemake --report report.html`) with its caption from workflow/report/figures/<fig>.rst.


rule figure:
    """Draw one figure (data/figures/<fig>.png) from the data files it lists in FIGURES, every backend whose
    result exists beside the sim's, or a titled note saying why its stage did not run."""
    input:
        get_figure_input,
    output:
        report("data/figures/{fig}.png", caption="../report/figure.rst", category=get_report_category),
    log:
        "logs/figures/{fig}.log",
    benchmark:
        "logs/figures/{fig}.benchmark.tsv"
    params:
        caption=get_figure_caption,
    conda:
        "../envs/shift.yaml"
    script:
        "../scripts/figures/{wildcards.fig}.py"


rule figures_manifest:
    """Provenance of the figures stage: the figures drawn and the stage's measured wall time."""
    input:
        results=expand("data/figures/{fig}.png", fig=FIGURES),
        benchmarks=expand("logs/figures/{fig}.benchmark.tsv", fig=FIGURES),
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
