"""Fig 7: throughput over time per strategy, operation and fault site (failure at t=5 s, recovery at t=10 s),
one row of panels per backend and fault site (``data/<backend>/timeline.csv``, same columns as the sim's)."""

import seaborn as sns

from shift_core.bench.figure import backend_frames, load, not_run, save, style

smk = snakemake  # type: ignore[name-defined]  # noqa: F821
TITLE = "Fig 7: throughput under a failure at t=5 s, recovery at t=10 s"
META = {"title": TITLE, "paper_item": "Fig 7"}
frame, why = load(smk.input[0])
if frame is None:
    not_run(TITLE, why, smk.output[0], META)
else:
    import pandas as pd

    frames = backend_frames(smk.input[0])
    data = pd.concat(frames.values(), ignore_index=True)
    data["panel"] = data["backend"] + " | " + data["site"].str.replace("_", " ")
    style()
    g = sns.relplot(data=data, x="t_s", y="gbps", hue="strategy", style="strategy", row="panel", col="op",
                    kind="line", markers=True, dashes=False, height=2.1, aspect=1.55,
                    facet_kws={"sharey": "row", "margin_titles": True})
    for ax in g.axes.flat:
        for t in (frame["fault_at_s"].iloc[0], frame["recover_at_s"].iloc[0]):
            ax.axvline(t, color="grey", lw=0.8, ls="--")
    g.set_axis_labels("time (s)", "throughput (Gb/s)")
    g.set_titles(row_template="{row_name}", col_template="{col_name}")
    g.figure.suptitle(TITLE, y=1.02)
    caption = ("Throughput per strategy (colour), operation (column) and backend | fault site (row); dashed "
               "lines: failure and recovery. `none` stops at the failure; the failover strategies keep running on "
               "the backup NIC and switch back.")
    if "sim" in frames:
        caption += (" The sim runs in virtual time: its shape (the dip, the backup rate, the switch-back) is the "
                    "evidence; its absolute Gb/s is the emulator's configured link rate.")
    save(g.figure, smk.output[0], {**META, "caption": caption, "backends": list(frames)})
