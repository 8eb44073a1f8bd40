"""Where this build's data came from, as tables a reviewer reads (never raw manifest dumps), and no machine's
absolute path anywhere the book prints one.

Every stage writes ``data/<stage>/manifest.json`` (contract 4): commit, backend, status, versions, config hash
and the stage's measured ``wall_seconds``. :func:`scrub` rewrites the machine's paths (repository, data root,
home, temp) in any text the book prints: under the repository they become repository-relative, any other keeps
only its last two parts.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .markdown import table

#: the keys a manifest may time its stage with, in order of preference
RUNTIME_KEYS = ("wall_seconds", "seconds")
def code_repo() -> Path:
    """The checkout ``shift_core`` is imported from (autodoc prints default values with its paths)."""
    import shift_core

    return Path(shift_core.__file__).resolve().parents[1]


def machine_roots(*extra: Path) -> list[str]:
    """The absolute directories that identify this machine: ``extra`` (the book's repository, the data root),
    the checkout of ``shift_core``, the home directory and the temporary directory, longest first. System paths
    (``/dev/infiniband``...) are not among them: they name no one's machine."""
    roots = {str(p.resolve()) for p in (*extra, code_repo())}
    roots |= {str(Path.home().resolve()), str(Path(tempfile.gettempdir()).resolve())}
    return sorted((r for r in roots if r not in ("/", "")), key=len, reverse=True)


def scrub(text: str, repo: Path, *extra: Path) -> str:
    """``text`` with every path under a machine root (:func:`machine_roots`) rewritten: under ``repo`` or the
    checkout of ``shift_core`` it becomes repository-relative, anywhere else it keeps only its last two parts
    (``…/a/b``)."""
    repos = sorted({str(repo.resolve()), str(code_repo())}, key=len, reverse=True)
    for root in machine_roots(repo, *extra):
        pattern = re.compile(re.escape(root) + r"(/[\w.+@-]+)*/?")

        def fix(m: re.Match[str]) -> str:
            path = m.group(0).rstrip("/")
            home = next((r for r in repos if path == r or path.startswith(r + "/")), None)
            if home is not None:
                return path[len(home) + 1:] or "."
            parts = [p for p in path.split("/") if p]
            return "…/" + "/".join(parts[-2:])

        text = pattern.sub(fix, text)
    return text


def wall_time(man: Mapping[str, Any]) -> str:
    """The stage's recorded wall time, or ``not recorded`` when the manifest has none."""
    for key in RUNTIME_KEYS:
        value = man.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return f"{value:,.1f} s" if value >= 0.05 else "< 0.1 s"
    return "not recorded"


def _short(commit: Any) -> str:
    text = str(commit or "")
    return (f"`{text[:10]}`" + (" ✱" if text.endswith("-dirty") else "")) if text else "—"


def _when(created: Any) -> str:
    """``2026-12-03T09:14:52+00:00`` -> ``2026-12-03 09:14``."""
    text = str(created or "")
    return text[:16].replace("T", " ") if len(text) >= 16 else text


def stage_table(manifests: Mapping[str, Mapping[str, Any]]) -> str:
    """One row per stage: the stage and its backend, status (and why), commit and creation time, config hash and
    wall time."""
    rows = []
    dirty = False
    for stage, man in manifests.items():
        status = str(man.get("status", "?"))
        if man.get("reason"):
            status += f": {man['reason']}"
        dirty |= str(man.get("commit", "")).endswith("-dirty")
        created = f"<br><small>{_when(man['created'])}</small>" if man.get("created") else ""
        rows.append([f"`data/{stage}/`<br><small>{man.get('backend', '')}</small>", status,
                     _short(man.get("commit")) + created,
                     f"`{str(man['config_hash'])[:8]}`" if man.get("config_hash") else "—", wall_time(man)])
    out = table(["stage (backend)", "status", "commit (UTC)", "config", "wall time"], rows, raw=True)
    if dirty:
        out += "\n✱ the working tree had uncommitted changes when the stage ran.\n"
    return out


def versions_table(manifests: Mapping[str, Mapping[str, Any]]) -> str:
    """Package versions: one column per distinct set of versions, naming the stages that recorded it."""
    sets: dict[tuple[tuple[str, str], ...], list[str]] = {}
    for stage, man in manifests.items():
        versions = man.get("versions")
        if isinstance(versions, dict) and versions:
            extra = {"python": str(man.get("python", ""))} if man.get("python") else {}
            key = tuple(sorted({**extra, **{str(k): str(v) for k, v in versions.items()}}.items()))
            sets.setdefault(key, []).append(stage)
    if not sets:
        return "No stage recorded package versions.\n"
    names = sorted({k for key in sets for k, _ in key})
    headers = ["package", *(", ".join(stages) if len(sets) > 1 else "every stage" for stages in sets.values())]
    rows = [[f"`{n}`", *(dict(key).get(n, "—") for key in sets)] for n in names]
    return table(headers, rows)


def host_line(manifests: Mapping[str, Mapping[str, Any]]) -> str:
    """The platform the stages ran on (one line per distinct platform)."""
    seen = sorted({str(m.get("platform")) for m in manifests.values() if m.get("platform")})
    return "".join(f"- `{p}`\n" for p in seen) or "- not recorded\n"
