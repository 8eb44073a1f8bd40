"""Fig 9: execution time per verb, standard vs SHIFT, one panel per backend that ran it
(``data/<backend>/verbs_cost.csv``, same columns as the sim's)."""

import seaborn as sns

from shift_core.bench.figure import BACKEND_LABELS, backend_frames, load, not_run, save, style

smk = snakemake  # type: ignore[name-defined]  # noqa: F821
TITLE = "Fig 9: execution time of verbs, standard vs SHIFT"
#: the sim's verb costs are the Python layer's wall clock, not the emulator's virtual time (BACKEND_LABELS' "sim")
LABELS = {**BACKEND_LABELS, "sim": "sim (the Python layer's wall clock, not virtual time)"}
META = {"title": TITLE, "paper_item": "Fig 9"}
frame, why = load(smk.input[0])
if frame is None:
    not_run(TITLE, why, smk.output[0], META)
else:
    import pandas as pd

    frames = backend_frames(smk.input[0])
    style()
    data = pd.concat(frames.values(), ignore_index=True)  # one index over the backends
    g = sns.catplot(data=data, x="verb", y="time_us", hue="variant", col="backend",
                    col_wrap=1, kind="bar", estimator="median", errorbar=("pi", 50), sharey=False, height=3.4,
                    aspect=2.3, col_order=list(frames))
    for backend, ax in zip(frames, g.axes.flat, strict=True):
        ax.set_title(LABELS[backend])
        ax.set_yscale("log")
        ax.tick_params(axis="x", rotation=35)
    g.set_axis_labels("verb", "execution time (µs, median and IQR)")
    g.figure.suptitle(TITLE, y=1.03)
    caption = ("Median wall-clock time per verb call (bars) with the interquartile range, standard verbs vs the "
               "same call through SHIFT, log scale. The paper measures C verbs on ConnectX NICs (tens of ns for "
               "data verbs).")
    if "sim" in frames:
        caption += (" On sim both variants are the Python layer's own cost: the ratio between them is the "
                    "evidence, the absolute times are not comparable with the paper's.")
    save(g.figure, smk.output[0], {**META, "caption": caption, "backends": list(frames)})
