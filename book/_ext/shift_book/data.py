"""Read-only access to the pipeline's ``data/`` tree, remembering every file the book looked for and missed.

The book never reruns an experiment: it reads results, manifests and claims. The data root is
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


def check_records(obj: Any) -> list[dict[str, Any]]:
    """The CheckResult records in a loaded JSON value: one record, a list, or a wrapper with a list.

    ``shift_core.model.check.CheckResult.to_json`` writes one record; a check with variants (``<id>/<variant>``)
    may write several. Anything that is not shaped like a record is ignored here (and shown raw by the caller).
    """
    if isinstance(obj, dict) and "check_id" in obj:
        return [obj]
    if isinstance(obj, list):
        return [r for r in obj if isinstance(r, dict) and "check_id" in r]
    if isinstance(obj, dict):
        for key in ("results", "records", "checks", "variants", "protocols"):
            if isinstance(obj.get(key), list):
                return check_records(obj[key])
    return []
