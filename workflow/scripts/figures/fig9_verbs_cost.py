"""Fig 9: execution time per verb, standard vs SHIFT, from data/sim/verbs_cost.csv."""

import matplotlib.pyplot as plt
import seaborn as sns

from shift_core.bench.figure import load, not_run, save, style

smk = snakemake  # type: ignore[name-defined]  # noqa: F821
TITLE = "Fig 9 (sim): execution time of verbs, standard vs SHIFT"
frame, why = load(smk.input[0])
if frame is None:
    not_run(TITLE, why, smk.output[0])
else:
    style()
    fig, ax = plt.subplots(figsize=(8, 3.8))
    sns.barplot(data=frame, x="verb", y="time_us", hue="variant", estimator="median", errorbar=("pi", 50), ax=ax)
    ax.set_yscale("log")
    ax.set_xlabel("verb")
    ax.set_ylabel("execution time (µs, wall clock; median, IQR)")
    ax.tick_params(axis="x", rotation=35)
    ax.set_title(TITLE)
    save(fig, smk.output[0])
