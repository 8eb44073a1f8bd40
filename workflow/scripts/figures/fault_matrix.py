"""Fault matrix: outcome shares per strategy and workload (SHIFT issue's runner), from data/sim/faults/faults.csv."""

import matplotlib.pyplot as plt
import seaborn as sns

from shift_core.bench.figure import load, not_run, save, style

smk = snakemake  # type: ignore[name-defined]  # noqa: F821
TITLE = "Fault matrix (sim): share of runs ending in silent corruption, per strategy and workload"
frame, why = load(smk.input[0])
if frame is None:
    not_run(TITLE, why, smk.output[0])
else:
    style()
    frame["silent"] = (frame["outcome"] == "silent_corruption").astype(float) * 100
    table = frame.pivot_table(index="strategy", columns="workload", values="silent", aggfunc="mean")
    fig, ax = plt.subplots(figsize=(9, 3.6))
    sns.heatmap(table, annot=True, fmt=".0f", cmap="rocket_r", vmin=0, vmax=100, ax=ax,
                cbar_kws={"label": "silent corruption (% of runs)"})
    ax.set_xlabel("workload")
    ax.set_ylabel("strategy")
    ax.set_title(TITLE)
    save(fig, smk.output[0])
