"""Helpers the pipeline's stage scripts share: run a project module with its output logged, record a skip.

A stage whose producer is not available (a module not built yet, a missing tool, no device) records
``status: skipped`` with the reason in its JSON outputs, so the pipeline reports what did not run instead of
failing silently or faking numbers. A producer that exists but fails makes the rule fail.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from shift_core.results import manifest, write_json_atomic, write_text_atomic


def module_available(name: str) -> str | None:
    """``None`` when ``python -m <name>`` can run, else the reason it cannot (for a skipped manifest)."""
    try:
        spec = importlib.util.find_spec(name)
    except ModuleNotFoundError as exc:
        return f"{exc.name} is not built yet"
    if spec is None:
        return f"{name} is not built yet"
    if spec.submodule_search_locations is not None:  # a package: needs __main__
        main = importlib.util.find_spec(f"{name}.__main__")
        if main is None:
            return f"{name} has no command-line entry point (__main__) yet"
    return None


def run_logged(cmd: Sequence[str], log: str | Path, *, env: Mapping[str, str] | None = None,
               timeout: float | None = None) -> int:
    """Run ``cmd`` with stdout+stderr appended to ``log``; returns the exit status."""
    Path(log).parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(f"$ {' '.join(cmd)}\n")
        fh.flush()
        proc = subprocess.run(list(cmd), stdout=fh, stderr=subprocess.STDOUT, env=None if env is None else dict(env),
                              timeout=timeout, check=False)
    return proc.returncode


def python_module(module: str, *args: str) -> list[str]:
    """The command that runs ``python -m module args`` under this interpreter (the project's venv)."""
    return [sys.executable, "-m", module, *args]


def write_skipped(outputs: Sequence[str | Path], backend: str, reason: str,
                  config: Mapping[str, Any] | None = None) -> None:
    """Record ``skipped: <reason>`` in every output: a manifest for ``.json``, a one-row table for ``.csv``."""
    record = manifest(backend, config, status="skipped", reason=reason)
    for out in outputs:
        if str(out).endswith(".csv"):
            write_text_atomic(out, f"status,reason\nskipped,\"{reason}\"\n")
        else:
            write_json_atomic(out, record)


def log_line(log: str | Path, text: str) -> None:
    """Append one line to a rule's log."""
    Path(log).parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(text.rstrip("\n") + "\n")
