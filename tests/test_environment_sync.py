"""environment.yml (for conda users) lists the same Python dependencies as pyproject.toml (what CI installs)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
#: conda-forge name -> PyPI name, where they differ
CONDA_TO_PYPI = {"redis-py": "redis", "types-pyyaml": "types-PyYAML"}
#: conda entries that are not Python packages of pyproject (interpreter, installer, system tools)
CONDA_ONLY = {"python", "pip", "compilers", "redis-server"}


def _norm(name: str) -> str:
    return name.lower().replace("_", "-")


def _pyproject() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    return {_norm(r.name): str(r.specifier) for r in map(Requirement, reqs)}


def _conda() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    out: dict[str, str] = {}
    for dep in env["dependencies"]:
        if not isinstance(dep, str):
            continue
        req = Requirement(dep.replace(" ", ""))
        name = CONDA_TO_PYPI.get(req.name, req.name)
        if name not in CONDA_ONLY:
            out[_norm(name)] = str(req.specifier)
    return out


def test_same_packages() -> None:
    py, conda = _pyproject(), _conda()
    assert sorted(set(py) - set(conda)) == [], "in pyproject.toml but not environment.yml"
    assert sorted(set(conda) - set(py)) == [], "in environment.yml but not pyproject.toml"


def test_same_version_constraints() -> None:
    py, conda = _pyproject(), _conda()
    assert {k: v for k, v in py.items()} == {k: conda[k] for k in py}
