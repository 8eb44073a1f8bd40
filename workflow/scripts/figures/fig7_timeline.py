"""Fig 7 shape: throughput over (paper) time per strategy, op and fault site, from data/sim/timeline.csv."""

import seaborn as sns

from shift_core.bench.figure import load, not_run, save, style

smk = snakemake  # type: ignore[name-defined]  # noqa: F821
TITLE = "Fig 7 (sim): throughput under a failure at t=5 s, recovery at t=10 s"
frame, why = load(smk.input[0])
if frame is None:
    not_run(TITLE, why, smk.output[0])
else:
    style()
    g = sns.relplot(data=frame, x="t_s", y="gbps", hue="strategy", style="strategy", row="site", col="op",
                    kind="line", markers=True, dashes=False, height=2.2, aspect=1.5, facet_kws={"sharey": True})
    for ax in g.axes.flat:
        for t in (frame["fault_at_s"].iloc[0], frame["recover_at_s"].iloc[0]):
            ax.axvline(t, color="grey", lw=0.8, ls="--")
    g.set_axis_labels("paper time (s)", "throughput (Gb/s)")
    g.set_titles("{row_name} | {col_name}")
    g.figure.suptitle(TITLE, y=1.02)
    save(g.figure, smk.output[0])
