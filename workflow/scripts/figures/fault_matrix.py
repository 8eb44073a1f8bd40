"""Fault matrix: the share of runs ending in silent corruption per strategy and workload, from
data/sim/faults/faults.csv (and the responder's duplicate-WRITE rule from faults.json). Supported workloads
(the traffic SHIFT claims to fail over) are drawn left of the line, the others right of it."""

import json
from pathlib import Path

import seaborn as sns

from shift_core.bench.figure import load, not_run, save, style

smk = snakemake  # type: ignore[name-defined]  # noqa: F821
TITLE = "Fault matrix (sim): silent corruption per strategy and workload"
META = {"title": TITLE}
frame, why = load(smk.input[0])
if frame is None:
    not_run(TITLE, why, smk.output[0], META)
else:
    import matplotlib.pyplot as plt

    from shift_core.vocabulary import STRATEGIES

    config = json.loads(Path(smk.input[1]).read_text()).get("config", {}) if len(smk.input) > 1 else {}
    style()
    frame["silent"] = (frame["outcome"] == "silent_corruption").astype(float) * 100
    supported = frame.groupby("workload")["supported"].first().astype(str).str.lower() == "true"
    order = [w for w in dict.fromkeys(frame["workload"]) if supported[w]]
    order += [w for w in dict.fromkeys(frame["workload"]) if not supported[w]]
    table = frame.pivot_table(index="strategy", columns="workload", values="silent", aggfunc="mean")
    table = table.reindex(index=[s for s in STRATEGIES if s in table.index], columns=order)
    runs = frame.groupby(["strategy", "workload"]).size()
    fig, ax = plt.subplots(figsize=(9.5, 3.9))
    sns.heatmap(table, annot=table.map(lambda v: f"{v:.0f} %"), fmt="", cmap="rocket_r", vmin=0, vmax=100,
                linewidths=0.5, linecolor="white", ax=ax, cbar_kws={"label": "silent corruption (% of runs)"})
    n_sup = sum(1 for w in order if supported[w])
    ax.axvline(n_sup, color="#0969da", lw=2.5)
    ax.text(n_sup / 2, -0.12, "supported traffic", ha="center", color="#0969da", fontsize=9, weight="bold")
    ax.text(n_sup + (len(order) - n_sup) / 2, -0.12, "outside SHIFT's support", ha="center", color="#6e7781",
            fontsize=9, weight="bold")
    ax.set_xlabel("workload")
    ax.set_ylabel("strategy")
    ax.tick_params(axis="x", rotation=30)
    ax.set_title(TITLE, pad=26)
    dup = config.get("dup_write", "reexecute")
    caption = (f"{len(frame):,} fault schedules, {int(runs.min())}–{int(runs.max())} runs per cell; each cell is "
               "the share of runs whose end state the model's judge calls a silent corruption (the rest end "
               f"correct or with an error surfaced to the application). Responder rule for a duplicate WRITE: "
               f"`{dup}`.")
    save(fig, smk.output[0], {**META, "caption": caption, "backends": ["sim"]})
