"""Fig 8b: fallback downtime (first error WC -> first successful WC after fallback), from data/sim/downtime.csv."""

import matplotlib.pyplot as plt
import seaborn as sns

from shift_core.bench.figure import load, not_run, save, style

smk = snakemake  # type: ignore[name-defined]  # noqa: F821
TITLE = "Fig 8b (sim): SHIFT fallback downtime per fault site and operation"
frame, why = load(smk.input[0])
if frame is None:
    not_run(TITLE, why, smk.output[0])
else:
    style()
    fig, ax = plt.subplots(figsize=(7, 3.5))
    sns.barplot(data=frame, x="site", y="downtime_us", hue="op", errorbar="sd", ax=ax)
    ax.set_xlabel("fault site")
    ax.set_ylabel("downtime (µs)")
    ax.set_title(TITLE)
    save(fig, smk.output[0])
