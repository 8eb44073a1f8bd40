"""Helpers of the book tests: build the book from a data root in a copy of ``book/``.

The copy keeps the real ``book/`` tree untouched (its ``_generated/`` and ``_build/`` belong to the pipeline's
build), and ``SHIFT_DATA_DIR`` points the book at the given data. ``book/build.sh`` vendors MathJax into the copy
when the real tree has none (npm or Debian), exactly as a fresh clone would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BOOK = REPO / "book"
FIXTURE_DATA = Path(__file__).resolve().parent / "fixtures" / "data"
sys.path.insert(0, str(BOOK / "_ext"))


@dataclass(frozen=True)
class BuiltBook:
    """One build: the source copy, its HTML output, the build log, its exit status and wall time."""

    src: Path
    html: Path
    log: str
    returncode: int
    seconds: float


def build_book(src: Path, data: Path) -> BuiltBook:
    """Run ``book/build.sh`` (warnings are errors, nitpicky, keep going) on ``src`` with ``data`` as data root."""
    env = {**os.environ, "SHIFT_DATA_DIR": str(data), "JUPYTER_BOOK": str(Path(sys.executable).parent / "jupyter-book")}
    start = time.perf_counter()
    proc = subprocess.run(["bash", str(src / "build.sh")], env=env, capture_output=True, text=True, timeout=600)
    return BuiltBook(src, src / "_build" / "html", proc.stdout + proc.stderr, proc.returncode,
                     time.perf_counter() - start)


def copy_book(dest: Path) -> Path:
    """A copy of ``book/`` without build products (the vendored MathJax and npm cache are kept if present)."""
    shutil.copytree(BOOK, dest, ignore=shutil.ignore_patterns("_build", "_generated", "__pycache__"))
    return dest


def toc_files() -> list[str]:
    """Every document named in ``book/_toc.yml`` (root, chapters, sections), in reading order."""
    import yaml

    toc = yaml.safe_load((BOOK / "_toc.yml").read_text())
    out = [toc["root"]]

    def walk(entries: list[dict]) -> None:
        for e in entries:
            if "file" in e:
                out.append(e["file"])
            walk(e.get("sections", []) + e.get("chapters", []))

    for part in toc.get("parts", []):
        walk(part.get("chapters", []))
    return out
