"""Detection latency (fault -> first error completion) vs RC timeout and retry, from data/sim/detection.csv."""

import matplotlib.pyplot as plt
import seaborn as sns

from shift_core.bench.figure import load, not_run, save, style

smk = snakemake  # type: ignore[name-defined]  # noqa: F821
TITLE = "Failure detection latency vs RC timeout (excluded from the paper's downtime)"
frame, why = load(smk.input[0])
if frame is None:
    not_run(TITLE, why, smk.output[0])
else:
    style()
    frame["retry_cnt"] = frame["retry_cnt"].map(lambda r: f"retry_cnt={r}")
    fig, ax = plt.subplots(figsize=(7, 3.5))
    sns.lineplot(data=frame, x="timeout", y="detect_s", hue="retry_cnt", marker="o", errorbar=("pi", 100), ax=ax)
    ax.set_yscale("log")
    ax.set_xlabel("RC local ACK timeout exponent t (4.096 µs × 2^t)")
    ax.set_ylabel("detection latency (s)")
    ax.set_title(TITLE)
    save(fig, smk.output[0])
