"""NCCL Simple's clear-to-send (CTS) share of RDMA bytes vs message size, from data/boundary/cts_share.csv (the
boundary stage's closed form of NCCL's protocol parameters)."""

import seaborn as sns

from shift_core.bench.figure import load, not_run, save, style

smk = snakemake  # type: ignore[name-defined]  # noqa: F821
TITLE = "NCCL Simple: CTS bytes as a share of RDMA traffic"
META = {"title": TITLE}
frame, why = load(smk.input[0])
if frame is None:
    not_run(TITLE, why, smk.output[0], META)
else:
    import matplotlib.pyplot as plt

    style()
    fig, ax = plt.subplots(figsize=(6.8, 3.6))
    sns.lineplot(data=frame, x="message_bytes", y="cts_share_pct", hue="setting", marker="o", ax=ax)
    ax.axhline(0.02, color="red", ls="--", lw=0.8, label="paper: < 0.02 %")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("message size (bytes)")
    ax.set_ylabel("CTS share of RDMA bytes (%)")
    ax.legend(fontsize=8)
    ax.set_title(TITLE)
    caption = ("Bytes of NCCL Simple's reverse clear-to-send WRITEs (the one plain WRITE a receiver may read "
               "before a later notification, Table 1's exception) as a share of all RDMA bytes, per collective "
               "setting and message size. Computed in closed form from NCCL's protocol parameters (chunk and "
               "slot sizes), so the curve is by construction; the paper's bound is the dashed line.")
    save(fig, smk.output[0], {**META, "caption": caption, "backends": ["model"]})
