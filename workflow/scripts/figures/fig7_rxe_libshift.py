"""Fig 7 on real soft-RoCE: unmodified perftest under libshift.so vs stock verbs, from perftest's own per-second
report (data/rxe/perftest_timeline.csv, written by workflow/scripts/rxe/libshift_guest.py).

Primary link down at 5 s, up at 10 s (dashed lines); shaded: the interval libshift's trace shows the client's
send queue on the backup QP. Absolute Gb/s are QEMU/TCG's, so only the shape is comparable with the paper.
"""

import json
from pathlib import Path

import pandas as pd
import seaborn as sns

from shift_core.bench.figure import not_run, save, style

smk = snakemake  # type: ignore[name-defined]  # noqa: F821
TITLE = "Fig 7 on soft-RoCE: unmodified perftest under libshift.so, primary link down from 5 s to 10 s"
VERBS = {"shift": "libshift.so", "none": "stock verbs"}
manifest = Path(smk.input[0])
table = manifest.parent / "perftest_timeline.csv"
frame = pd.read_csv(table) if table.exists() else None
if frame is None or frame.empty:
    why = "no rxe run with libshift (data/rxe/perftest_timeline.csv absent)"
    if manifest.exists():
        m = json.loads(manifest.read_text())
        if m.get("status") != "ok" and m.get("reason"):
            why = m["reason"]
    not_run(TITLE, why, smk.output[0], {"title": TITLE})
else:
    style()
    frame = frame.assign(run=frame["tool"] + " | fault at the " + frame["site"].str.replace("_", " "),
                         verbs=frame["strategy"].map(VERBS))
    g = sns.relplot(data=frame, x="t_s", y="gbps", hue="verbs", style="verbs", col="run", col_wrap=2,
                    hue_order=list(VERBS.values()), kind="line", markers=True, dashes=False, height=2.4, aspect=1.6,
                    facet_kws={"sharey": False})
    for run, ax in g.axes_dict.items():
        sub = frame[frame["run"] == run]
        down, up = sub["fault_at_s"].iloc[0], sub["recover_at_s"].iloc[0]
        for t, label in ((down, "link down"), (up, "link up")):
            ax.axvline(t, color="grey", lw=0.8, ls="--")
            ax.annotate(label, (t, 1.0), xycoords=("data", "axes fraction"), xytext=(2, -10),
                        textcoords="offset points", fontsize=7, color="dimgrey")
        backup = sub[(sub["strategy"] == "shift") & (sub["path"] == "backup")]
        if not backup.empty:
            ax.axvspan(backup["t_s"].min() - 1.0, backup["t_s"].max(), color="tab:orange", alpha=0.12, lw=0,
                       label="on the backup NIC")
    g.set_axis_labels("time since the client started (s)", "throughput (Gb/s, QEMU/TCG)")
    g.set_titles("{col_name}")
    g.figure.suptitle(TITLE, y=1.03)
    on_backup = {r: bool(s["path"].eq("backup").any()) for r, s in frame[frame["strategy"] == "shift"].groupby("run")}
    caption = ("Each point is one of perftest's own per-second reports (--run_infinitely -D 1), timestamped on "
               "arrival, for both ends under LD_PRELOAD=libshift.so (backup rxe devices on a second link) and on "
               "stock verbs; dashed: the primary link goes down and comes back; shaded: libshift's trace shows the "
               "client's send queue on the backup QP. "
               f"libshift ran on the backup in {sum(on_backup.values())} of {len(on_backup)} runs. "
               "Gb/s are QEMU/TCG's software RDMA: only the shape compares with the paper.")
    save(g.figure, smk.output[0], {"title": TITLE, "caption": caption, "backends": ["rxe"]})
