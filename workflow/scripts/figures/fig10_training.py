"""Fig 10 shape: training progress with a fatal NIC fault per recovery case, from data/sim/training.csv."""

import matplotlib.pyplot as plt
import seaborn as sns

from shift_core.bench.figure import load, not_run, save, style

smk = snakemake  # type: ignore[name-defined]  # noqa: F821
TITLE = "Fig 10 (sim): data-parallel training progress under a fatal NIC fault"
frame, why = load(smk.input[0])
if frame is None:
    not_run(TITLE, why, smk.output[0])
else:
    style()
    fig, ax = plt.subplots(figsize=(7, 3.8))
    sns.lineplot(data=frame, x="t_ms", y="progress_pct", hue="case", style="case", ax=ax)
    for pct in (25, 50, 75):
        ax.axhline(pct, color="grey", lw=0.6, ls=":")
    ax.set_xlabel("simulated time (ms)")
    ax.set_ylabel("training progress (%)")
    ax.set_title(TITLE)
    save(fig, smk.output[0])
