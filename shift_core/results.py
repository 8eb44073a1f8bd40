"""Results as frozen data: atomic writes and run manifests (standard library only).

Every generated file under ``data/`` is written through :func:`write_json_atomic` /
:func:`write_text_atomic` (temp file in the same directory, fsync, rename), so an interrupted run never
leaves a half-written result. :func:`manifest` records where a result came from: git commit, backend,
host, package versions, a hash of the configuration that produced it, and the measured wall time. A manifest
is meant to be published beside the data, so it never holds a machine's absolute path (:func:`portable`).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any


def _default(obj: Any) -> Any:
    """JSON encoder for dataclasses, enums, paths and sets (sorted, so output is deterministic)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if isinstance(obj, enum.Enum):
        return obj.name
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=repr)
    if hasattr(obj, "to_json"):
        return obj.to_json()
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")


def to_json(obj: Any) -> str:
    """Serialise ``obj`` deterministically (sorted keys, 1-space indent, trailing newline)."""
    return json.dumps(obj, default=_default, indent=1, sort_keys=True) + "\n"


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` atomically: temp file in the same directory, fsync, then rename."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return target


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically (see :func:`to_json`)."""
    return write_text_atomic(path, to_json(obj))


def config_hash(config: Mapping[str, Any] | None) -> str:
    """A short, stable hash of a configuration mapping (key order does not matter)."""
    blob = json.dumps(config or {}, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def git_commit(cwd: str | os.PathLike[str] | None = None) -> str:
    """The current git commit (with ``-dirty`` when the tree has changes), or ``"unknown"``."""
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                             check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return rev + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def package_versions(names: tuple[str, ...] = ("shift-artifact", "snakemake", "jupyter-book", "pandas",
                                               "hypothesis", "redis", "cffi")) -> dict[str, str]:
    """Installed versions of the named distributions (missing ones are reported as ``"absent"``)."""
    out: dict[str, str] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


#: standard system locations (the same on every machine): kept as they are in a manifest
SYSTEM_PREFIXES = ("/usr/", "/bin/", "/sbin/", "/lib", "/etc/", "/dev/", "/proc/", "/sys/")
_ABS_PATH = re.compile(r"(?<![\w.~/:-])/[^\s\"'`(),;:]+")
#: the project checkout (a manifest names files relative to it)
PROJECT = Path(__file__).resolve().parents[1]
_T_IMPORT = time.monotonic()


def _relative_path(match: re.Match[str]) -> str:
    path = match.group(0)
    for root in (str(PROJECT), os.getcwd()):
        if path == root:
            return "."
        if path.startswith(root + "/"):
            return path[len(root) + 1:]
    if path.startswith(SYSTEM_PREFIXES):
        return path
    for root, name in ((tempfile.gettempdir(), "$TMPDIR"), (str(Path.home()), "~")):
        if root not in ("/", "") and path.startswith(root + "/"):
            return name + path[len(root):]
    return "…/" + path.rstrip("/").rsplit("/", 1)[-1]


def portable(obj: Any) -> Any:
    """``obj`` with every machine-specific absolute path in its strings rewritten: relative to the project (or
    the working directory), ``~/…`` under the home directory, ``$TMPDIR/…`` under the temp directory, else
    ``…/<name>``; standard system paths (``/usr/bin/coqc``, ``/dev/kvm``) are kept."""
    if isinstance(obj, str):
        return _ABS_PATH.sub(_relative_path, obj)
    if isinstance(obj, Path):
        return portable(str(obj))
    if isinstance(obj, Mapping):
        return {k: portable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [portable(v) for v in obj]
    return obj


def process_seconds() -> float:
    """Wall seconds since this process started (Linux ``/proc``; else since this module was imported).

    A Snakemake ``script:`` runs in its own process, so a manifest written at the end of a job measures the job.
    """
    try:
        start_ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        return time.clock_gettime(time.CLOCK_BOOTTIME) - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return time.monotonic() - _T_IMPORT


def benchmark_seconds(path: str | os.PathLike[str]) -> float:
    """The wall seconds of one job from its Snakemake ``benchmark:`` file (the ``s`` column; 0 when absent)."""
    try:
        lines = Path(path).read_text().splitlines()
        header, values = lines[0].split("\t"), lines[1].split("\t")
        return float(values[header.index("s")])
    except (OSError, IndexError, ValueError):
        return 0.0


def manifest(backend: str, config: Mapping[str, Any] | None = None, *, status: str = "ok",
             reason: str = "", extra: Mapping[str, Any] | None = None,
             wall_seconds: float | None = None) -> dict[str, Any]:
    """Provenance of one result: commit, backend, host, versions, config hash, run status and wall time.

    ``status`` is ``"ok"`` or ``"skipped"``; a skipped result carries its ``reason`` (e.g. "no rxe guest:
    qemu-system-x86_64 not installed"), so a missing backend is reported, never faked. ``wall_seconds`` is the
    measured wall time of the work the manifest describes: given, or in ``extra``, or else the writing
    process's own (:func:`process_seconds`). Paths in ``reason`` and ``extra`` pass through :func:`portable`.
    """
    extra = dict(extra or {})
    seconds = wall_seconds if wall_seconds is not None else extra.pop("wall_seconds", None)
    return {
        "commit": git_commit(),
        "backend": backend,
        "status": status,
        "reason": portable(reason),
        "host": platform.node(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "versions": package_versions(),
        "config_hash": config_hash(config),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "wall_seconds": round(float(seconds if seconds is not None else process_seconds()), 3),
        **portable(extra),
    }
