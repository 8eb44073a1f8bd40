"""Shared figure plumbing for the pipeline's figure scripts: house style, skipped data, atomic PNG writes.

Figures come only from files under ``data/``. When a stage was skipped, its figure says so in words (the
reason from the data) instead of plotting nothing or inventing a curve.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure


def style() -> None:
    """The house style: seaborn whitegrid, colour-blind palette, readable sizes."""
    sns.set_theme(style="whitegrid", palette="colorblind", context="paper", font_scale=1.1)


def load(path: str | Path) -> tuple[pd.DataFrame | None, str | None]:
    """The table at ``path``, or ``(None, reason)`` when the stage that writes it was skipped."""
    frame = pd.read_csv(path)
    if list(frame.columns[:2]) == ["status", "reason"] and (frame["status"] == "skipped").all():
        return None, str(frame["reason"].iloc[0])
    if frame.empty:
        return None, "no rows"
    return frame, None


def save(fig: Figure, path: str | Path) -> None:
    """Write ``fig`` as PNG atomically (temp file in the same directory, then rename)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".png", dir=target.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=130, bbox_inches="tight")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
        plt.close(fig)


def not_run(title: str, reason: str, path: str | Path) -> None:
    """A titled figure that states why there is no data (a skipped stage), never an invented curve."""
    style()
    fig, ax = plt.subplots(figsize=(7, 2.2))
    ax.set_axis_off()
    ax.set_title(title)
    ax.text(0.5, 0.5, f"not run: {reason}", ha="center", va="center", wrap=True, transform=ax.transAxes)
    save(fig, path)
