"""Read-only access to the pipeline's ``data/`` tree, remembering every file the book looked for and missed.

The book never reruns an experiment: it reads results, manifests and claims. Check records are read through
the producers' own record type, :meth:`shift_core.model.check.CheckResult.from_json`, and theorem files must have
the runner's shape (:func:`shift_core.theorems.runner.record`): a file in any other shape is reported as such,
never rendered as an empty result. The data root is
``$SHIFT_DATA_DIR`` when set (tests build from a fixture that way), else the repository's ``data/``. A missing
or unreadable file is not an error: the page says "not generated in this run: <path>" instead, and the
provenance page lists every such path, so a partial run is visible rather than papered over.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shift_core.model.check import CheckResult

DATA_ENV = "SHIFT_DATA_DIR"


def default_root(book_dir: Path) -> Path:
    """The data root: ``$SHIFT_DATA_DIR`` if set, else ``<repo>/data`` next to ``book/``."""
    env = os.environ.get(DATA_ENV, "").strip()
    return Path(env).expanduser().resolve() if env else (book_dir.parent / "data").resolve()


@dataclass
class DataRoot:
    """The ``data/`` tree as the book sees it.

    :param root: the directory holding ``theorems/``, ``boundary/``, ``figures/``, ``claims.csv``...
    :param missing: data-relative paths looked for and not found (or unreadable), in first-seen order.
    """

    root: Path
    missing: dict[str, str] = field(default_factory=dict)

    def check_file(self, rel: str) -> CheckFile | None:
        """The theorem check file at ``rel``, or ``None`` (missing, unreadable or not in the producers' shape:
        recorded, so the provenance page lists it)."""
        obj = self.json(rel)
        if obj is None:
            return None
        try:
            return check_file(obj)
        except ValueError as exc:
            self.missing.setdefault(rel, f"unreadable: {exc}")
            return None

    def display_root(self, repo: Path) -> str:
        """The data root as the book prints it: repository-relative, or ``$SHIFT_DATA_DIR`` (never the machine's
        absolute path)."""
        try:
            return str(self.root.resolve().relative_to(repo.resolve())) + "/"
        except ValueError:
            return f"$SHIFT_DATA_DIR (…/{self.root.name}/)"

    def display(self, rel: str) -> str:
        """How a data file is named on a page: ``data/<rel>`` whatever the root is."""
        return f"data/{rel}"

    def exists(self, rel: str) -> bool:
        """Whether ``rel`` exists under the root (a miss is recorded)."""
        ok = (self.root / rel).exists()
        if not ok:
            self.missing.setdefault(rel, "not generated in this run")
        return ok

    def json(self, rel: str) -> Any | None:
        """The parsed JSON at ``rel``, or ``None`` (recorded as missing or unreadable)."""
        path = self.root / rel
        if not path.is_file():
            self.missing.setdefault(rel, "not generated in this run")
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            self.missing.setdefault(rel, f"unreadable: {type(exc).__name__}: {exc}")
            return None

    def csv(self, rel: str) -> list[dict[str, str]] | None:
        """The rows of the CSV at ``rel`` (header = keys), or ``None`` (recorded as missing or unreadable)."""
        path = self.root / rel
        if not path.is_file():
            self.missing.setdefault(rel, "not generated in this run")
            return None
        try:
            with path.open(newline="", encoding="utf-8") as fh:
                return [dict(row) for row in csv.DictReader(fh)]
        except (OSError, csv.Error, UnicodeDecodeError) as exc:
            self.missing.setdefault(rel, f"unreadable: {type(exc).__name__}: {exc}")
            return None

    def files(self, rel_dir: str, suffix: str) -> list[str]:
        """Data-relative paths of the files ending in ``suffix`` under ``rel_dir`` (recursive, sorted)."""
        base = self.root / rel_dir
        if not base.is_dir():
            self.missing.setdefault(rel_dir + "/", "not generated in this run")
            return []
        return sorted(str(p.relative_to(self.root)) for p in base.rglob(f"*{suffix}") if p.is_file())

    def manifests(self) -> dict[str, dict[str, Any]]:
        """Every stage's ``<stage>/manifest.json`` found under the root, keyed by stage directory."""
        out: dict[str, dict[str, Any]] = {}
        if not self.root.is_dir():
            return out
        for path in sorted(self.root.glob("*/manifest.json")):
            try:
                obj = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                self.missing.setdefault(f"{path.parent.name}/manifest.json", f"unreadable: {exc}")
                continue
            if isinstance(obj, dict):
                out[path.parent.name] = obj
        return out


@dataclass(frozen=True)
class Record:
    """One check record as the producers wrote it: the :class:`~shift_core.model.check.CheckResult` it encodes,
    and the stored dict (producers may add keys beside the record, e.g. the boundary stage's ``diagrams``)."""

    result: CheckResult
    raw: dict[str, Any]


@dataclass(frozen=True)
class CheckFile:
    """``data/theorems/<check_id>.json`` in the shape :func:`shift_core.theorems.runner.record` writes:
    ``{"check_id", "passed", "wall_seconds", "results": [CheckResult.to_json()...], "xref": [...]}``."""

    check_id: str
    passed: bool
    wall_seconds: float | None
    records: tuple[Record, ...]


def records_of(items: Any) -> list[Record]:
    """The records of a list of stored ``CheckResult.to_json()`` dicts (the list of a check file or the
    boundary stage's ``protocols``), each parsed by :meth:`CheckResult.from_json`.

    :raises ValueError: when ``items`` is not a list of records (the message names what is wrong).
    """
    if not isinstance(items, list):
        raise ValueError(f"expected a list of check records, found {type(items).__name__}")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise ValueError(f"record {i} is a {type(item).__name__}, not a CheckResult record")
        try:
            out.append(Record(CheckResult.from_json(item), item))
        except (ValueError, TypeError, KeyError) as exc:
            raise ValueError(f"record {i}: {exc}") from None
    return out


def check_file(obj: Any) -> CheckFile:
    """A theorem check file as the runner writes it.

    :raises ValueError: for any other shape, e.g. a bare list of records (an old layout the producers no longer
        write): the book then says the file is not in the producers' shape instead of rendering nothing.
    """
    if not isinstance(obj, dict) or "check_id" not in obj or "results" not in obj:
        shape = f"a {type(obj).__name__}" + (f" with keys {sorted(obj)[:6]}" if isinstance(obj, dict) else "")
        raise ValueError(f"not a theorem check file ({{check_id, passed, results}}): found {shape}")
    wall = obj.get("wall_seconds")
    return CheckFile(str(obj["check_id"]), bool(obj.get("passed")),
                     float(wall) if isinstance(wall, (int, float)) else None, tuple(records_of(obj["results"])))
