"""Fig 10: data-parallel training progress under a fatal NIC fault per recovery case, one panel per backend that
ran it (``data/<backend>/training.csv``, same columns as the sim's)."""

import seaborn as sns

from shift_core.bench.figure import BACKEND_LABELS, backend_frames, load, not_run, save, style

smk = snakemake  # type: ignore[name-defined]  # noqa: F821
TITLE = "Fig 10: training progress under a fatal NIC fault"
META = {"title": TITLE, "paper_item": "Fig 10"}
frame, why = load(smk.input[0])
if frame is None:
    not_run(TITLE, why, smk.output[0], META)
else:
    import pandas as pd

    frames = backend_frames(smk.input[0])
    style()
    data = pd.concat(frames.values(), ignore_index=True)  # one index over the backends
    g = sns.relplot(data=data, x="t_ms", y="progress_pct", hue="case", style="case",
                    col="backend", kind="line", height=3.6, aspect=1.7, col_order=list(frames),
                    facet_kws={"sharex": False})
    for backend, ax in zip(frames, g.axes.flat, strict=True):
        ax.set_title(BACKEND_LABELS[backend])
        for pct in (25, 50, 75):
            ax.axhline(pct, color="grey", lw=0.6, ls=":")
    g.set_axis_labels("time (ms; sim: virtual)", "training progress (%)")
    g.figure.suptitle(TITLE, y=1.04)
    caption = ("Progress of a data-parallel training job per recovery case; dotted lines: the checkpoints (every "
               "25 %). Without SHIFT the fault kills the job, which restarts from the last checkpoint; with SHIFT "
               "it keeps running on the backup NIC. The baseline's lost work follows from where the fault is "
               "placed and the checkpoint interval (by construction); the slowdowns are measured.")
    save(g.figure, smk.output[0], {**META, "caption": caption, "backends": list(frames)})
