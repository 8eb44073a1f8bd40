"""Fig 7 on real soft-RoCE: unmodified perftest under libshift.so vs stock verbs, from perftest's own per-second
report (data/rxe/perftest_timeline.csv, written by workflow/scripts/rxe/libshift_guest.py).

Primary link down at 5 s, up at 10 s (dashed lines); shaded: the span libshift's trace shows the client's
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
    # each report is perftest's average over its interval (from_s, t_s]: draw it as a flat segment over that interval
    steps = pd.concat([frame.assign(t=frame["from_s"], order=2 * frame.index),
                       frame.assign(t=frame["t_s"], order=2 * frame.index + 1)]).sort_values("order")
    g = sns.relplot(data=steps, x="t", y="gbps", hue="verbs", style="verbs", col="run", col_wrap=2,
                    hue_order=list(VERBS.values()), style_order=list(VERBS.values()), kind="line", estimator=None,
                    sort=False, height=2.7, aspect=1.6, facet_kws={"sharey": False})
    for run, ax in g.axes_dict.items():
        sub = frame[frame["run"] == run]
        down, up = sub["fault_at_s"].iloc[0], sub["recover_at_s"].iloc[0]
        for t, label in ((down, "link down"), (up, "link up")):
            ax.axvline(t, color="grey", lw=0.8, ls="--")
            ax.annotate(label, (t, 1.0), xycoords=("data", "axes fraction"), xytext=(2, -10),
                        textcoords="offset points", fontsize=7, color="dimgrey")
        span = sub[sub["strategy"] == "shift"][["backup_from_s", "backup_to_s", "t_s"]]
        if not span.empty and pd.notna(span["backup_from_s"].iloc[0]):
            end = span["backup_to_s"].iloc[0] if pd.notna(span["backup_to_s"].iloc[0]) else span["t_s"].max()
            ax.axvspan(span["backup_from_s"].iloc[0], end, color="tab:blue", alpha=0.1, lw=0)
            ax.annotate("libshift on the backup", (span["backup_from_s"].iloc[0], 1.0),
                        xycoords=("data", "axes fraction"), xytext=(2, -20), textcoords="offset points", fontsize=7,
                        color="tab:blue")
    g.set_axis_labels("time since the client started (s)", "Gb/s (QEMU/TCG)")
    g.set_titles("{col_name}")
    g.figure.suptitle(TITLE, y=1.03)
    on_backup = {r: bool(s["path"].eq("backup").any()) for r, s in frame[frame["strategy"] == "shift"].groupby("run")}
    caption = ("Throughput from perftest's own per-interval reports (--run_infinitely -D 1; each drawn over its "
               "interval, timestamped on arrival; under TCG an interval can stretch to several seconds), both ends "
               "under LD_PRELOAD=libshift.so (backup rxe devices on a second link) or on stock verbs; dashed: the "
               "primary link goes down and comes back; shaded: libshift's trace shows the client's send queue on "
               f"the backup QP (failover to FENCE_DONE). libshift ran on the backup in {sum(on_backup.values())} of "
               f"{len(on_backup)} runs. Gb/s are QEMU/TCG's software RDMA: only the shape compares with the paper.")
    save(g.figure, smk.output[0], {"title": TITLE, "caption": caption, "backends": ["rxe"]})
