"""Backup memory vs number of connections (one backup QP + CQ each), from data/sim/memory_cost.csv (the paper's
per-QP and per-CQ sizes, multiplied out: the artifact's own figure of the paper's §4.2 numbers)."""

import seaborn as sns

from shift_core.bench.figure import load, not_run, save, style

smk = snakemake  # type: ignore[name-defined]  # noqa: F821
TITLE = "Host memory of SHIFT's backup QPs and CQs vs connections"
META = {"title": TITLE}
frame, why = load(smk.input[0])
if frame is None:
    not_run(TITLE, why, smk.output[0], META)
else:
    import matplotlib.pyplot as plt

    style()
    fig, ax = plt.subplots(figsize=(6.5, 3.5))
    sns.lineplot(data=frame, x="connections", y="total_mb", marker="o", ax=ax)
    for _, row in frame.iterrows():
        ax.annotate(f"{row['total_mb']:.4g} MB", (row["connections"], row["total_mb"]), textcoords="offset points",
                    xytext=(6, -10), fontsize=8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("backup connections (one QP + one CQ each)")
    ax.set_ylabel("host memory (MB)")
    ax.set_title(TITLE)
    caption = ("The paper's per-QP and per-CQ context sizes (§4.2) multiplied by the number of connections: "
               "arithmetic on the inputs, so the numbers are by construction, not a measurement.")
    save(fig, smk.output[0], {**META, "caption": caption, "backends": ["sim"]})
