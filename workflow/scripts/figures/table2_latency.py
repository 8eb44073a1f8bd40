"""Table 2 shape: small-write latency, standard vs SHIFT vs + idle QPs, from data/sim/latency.csv."""

import matplotlib.pyplot as plt
import seaborn as sns

from shift_core.bench.figure import load, not_run, save, style

smk = snakemake  # type: ignore[name-defined]  # noqa: F821
TITLE = "Table 2 (sim): RDMA WRITE latency, standard vs SHIFT vs + idle QPs"
frame, why = load(smk.input[0])
if frame is None:
    not_run(TITLE, why, smk.output[0])
else:
    style()
    fig, ax = plt.subplots(figsize=(7, 3.5))
    sns.barplot(data=frame, x="bytes", y="latency_us", hue="variant", errorbar="sd", ax=ax)
    ax.set_xlabel("message size (bytes)")
    ax.set_ylabel("latency (µs)")
    ax.set_title(TITLE)
    save(fig, smk.output[0])
