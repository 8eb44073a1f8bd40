"""Backup memory vs number of connections (one backup QP + CQ each), from data/sim/memory_cost.csv."""

import matplotlib.pyplot as plt
import seaborn as sns

from shift_core.bench.figure import load, not_run, save, style

smk = snakemake  # type: ignore[name-defined]  # noqa: F821
TITLE = "Backup QP + CQ memory (paper formula; 1k connections ≈ 171 MB)"
frame, why = load(smk.input[0])
if frame is None:
    not_run(TITLE, why, smk.output[0])
else:
    style()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    sns.lineplot(data=frame, x="connections", y="total_mb", marker="o", ax=ax)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("backup connections (QP + CQ each)")
    ax.set_ylabel("host memory (MB)")
    ax.set_title(TITLE)
    save(fig, smk.output[0])
