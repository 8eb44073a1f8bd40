"""Shared figure plumbing for the pipeline's figure scripts: house style, skipped data, atomic PNG writes,
every backend's copy of a result, and the caption the book shows.

Figures come only from files under ``data/``. When a stage was skipped, its figure says so in words (the
reason from the data) instead of plotting nothing or inventing a curve. A benchmark that real backends also run
writes ``data/<backend>/<stem>.csv`` with the sim's columns (contract 2); :func:`backend_frames` gathers every
copy whose manifest says ``ok`` so a figure draws sim beside rxe and nic. :func:`save` stores the figure's title,
caption, paper item and backends in the PNG's text chunks (:data:`META_KEYS`), which the book reads as the
figure's caption, so a figure and its caption cannot come apart.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from shift_core.results import manifest_of, read_json
from shift_core.vocabulary import BACKENDS


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


#: PNG text-chunk keys :func:`save` writes (``Title`` and ``Description`` are the PNG standard's own)
META_KEYS = {"title": "Title", "caption": "Description", "paper_item": "shift:paper_item", "backends": "shift:backends"}
#: how a figure names each backend's facet
BACKEND_LABELS = {"sim": "sim (emulator, virtual time)", "rxe": "rxe (soft-RoCE under QEMU TCG)",
                  "nic": "nic (real RDMA NICs)"}


def _status(path: Path) -> str | None:
    """The ``status`` of a result's JSON (``{"manifest": {...}}`` or a flat manifest), ``None`` if unreadable."""
    record = read_json(path)
    status = manifest_of(record).get("status") if record is not None else None
    return str(status) if status is not None else None


def backend_frames(sim_csv: str | Path) -> dict[str, pd.DataFrame]:
    """Every backend's copy of the benchmark whose sim table is ``sim_csv`` (``data/sim/<stem>.csv``).

    A backend counts when ``data/<backend>/<stem>.csv`` exists, is not a skipped stub, and its result JSON
    (``data/<backend>/<stem>.json``; else the stage's ``data/<backend>/manifest.json``) has ``status: ok`` and it
    has every column of the sim's table. Each frame gets a ``backend`` column. The sim table is required.
    """
    sim = Path(sim_csv)
    data, stem = sim.parent.parent, sim.stem
    columns = set(pd.read_csv(sim, nrows=0).columns)
    out: dict[str, pd.DataFrame] = {}
    for backend in BACKENDS:
        csv_path = data / backend / f"{stem}.csv"
        if not csv_path.is_file():
            continue
        if backend != "sim":
            result = data / backend / f"{stem}.json"
            status = _status(result if result.is_file() else data / backend / "manifest.json")
            if status != "ok":
                continue
        frame, _why = load(csv_path)
        if frame is not None and columns <= set(frame.columns):  # contract 2: the sim's columns
            out[backend] = frame.assign(backend=backend)
    return out


def constant(frame: pd.DataFrame, column: str, rel: float = 0.01) -> float | None:
    """The one value of ``column`` when every row has it (within ``rel``, 1 %), else ``None``: the sign of an
    emulator constant drawn as a row of identical bars."""
    values = frame[column].dropna()
    if values.empty:
        return None
    lo, hi = float(values.min()), float(values.max())
    return float(values.mean()) if hi - lo <= rel * max(abs(hi), abs(lo), 1e-12) else None


def save(fig: Figure, path: str | Path, meta: Mapping[str, Any] | None = None) -> None:
    """Write ``fig`` as PNG atomically (temp file in the same directory, then rename).

    :param meta: ``title``, ``caption``, ``paper_item`` (e.g. ``"Fig 8b"``, for the paper's own figures only)
        and ``backends`` (the backends drawn), stored as PNG text chunks under :data:`META_KEYS`.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".png", dir=target.parent)
    os.close(fd)
    chunks = {META_KEYS[k]: ", ".join(v) if isinstance(v, (list, tuple)) else str(v)
              for k, v in (meta or {}).items() if k in META_KEYS and v}
    try:
        fig.savefig(tmp, dpi=130, bbox_inches="tight", metadata={"Software": None, **chunks})
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; a published figure must be readable by the web server
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
        plt.close(fig)


def not_run(title: str, reason: str, path: str | Path, meta: Mapping[str, Any] | None = None) -> None:
    """A titled figure that states why there is no data (a skipped stage), never an invented curve."""
    style()
    fig, ax = plt.subplots(figsize=(7, 2.2))
    ax.set_axis_off()
    ax.set_title(title)
    ax.text(0.5, 0.5, f"not run: {reason}", ha="center", va="center", wrap=True, transform=ax.transAxes)
    save(fig, path, {"title": title, **(meta or {}), "caption": f"Not run in this run: {reason}."})


def note(ax: Any, text: str) -> None:
    """A boxed remark inside an axes (e.g. that its bars are an emulator constant), where readers look."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=8.5,
            bbox={"boxstyle": "round,pad=0.5", "facecolor": "#fff8c5", "edgecolor": "#bf8700", "alpha": 0.95})


def backend_bars(frames: Mapping[str, pd.DataFrame], *, x: str, y: str, hue: str, flat_note: str,
                 **kw: Any) -> tuple[Any, list[str]]:
    """One bar panel per backend (each with its own y scale, titled by :data:`BACKEND_LABELS`); a panel whose bars
    are all one value (:func:`constant`) gets ``flat_note`` written on it, formatted with that ``value``.

    :returns: the seaborn ``FacetGrid`` and the backends whose panel is flat.
    """
    data = pd.concat(frames.values(), ignore_index=True)  # one index over the backends
    g = sns.catplot(data=data, x=x, y=y, hue=hue, col="backend", kind="bar", errorbar="sd",
                    sharey=False, height=3.4, aspect=1.25, col_order=list(frames), **kw)
    flat = []
    for backend, ax in zip(frames, g.axes.flat, strict=True):
        ax.set_title(BACKEND_LABELS[backend])
        value = constant(frames[backend], y)
        if value is not None:
            flat.append(backend)
            note(ax, flat_note.format(value=value))
    return g, flat
