"""NCCL Simple's CTS share of RDMA bytes vs message size, from data/boundary/cts_share.csv (boundary stage)."""

import matplotlib.pyplot as plt
import seaborn as sns

from shift_core.bench.figure import load, not_run, save, style

smk = snakemake  # type: ignore[name-defined]  # noqa: F821
TITLE = "NCCL Simple: CTS bytes as a share of RDMA traffic (paper: < 0.02%)"
frame, why = load(smk.input[0])
if frame is None:
    not_run(TITLE, why, smk.output[0])
else:
    style()
    fig, ax = plt.subplots(figsize=(6.5, 3.5))
    sns.lineplot(data=frame, x="message_bytes", y="cts_share_pct", hue="setting", marker="o", ax=ax)
    ax.axhline(0.02, color="red", ls="--", lw=0.8, label="paper bound 0.02%")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("message size (bytes)")
    ax.set_ylabel("CTS share of RDMA bytes (%)")
    ax.legend(fontsize=8)
    ax.set_title(TITLE)
    save(fig, smk.output[0])
