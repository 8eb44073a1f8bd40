"""The Available badge's files: LICENSE (MIT, as pyproject says) and a CITATION.cff that cffconvert accepts.

cffconvert 2.0 pins jsonschema < 4, which the project cannot share (it needs >= 4.20), so it is installed from
PyPI into its own venv under build/tools/ (once; reused after) rather than into the project's environment.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "build" / "tools" / "cffconvert"


@pytest.fixture(scope="module")
def cffconvert() -> Path:
    exe = TOOL / "bin" / "cffconvert"
    if not exe.exists():
        made = subprocess.run([sys.executable, "-m", "venv", "--clear", str(TOOL)], capture_output=True, text=True,
                              check=False)
        pip = subprocess.run([str(TOOL / "bin" / "pip"), "install", "-q", "cffconvert==2.0.0"], capture_output=True,
                             text=True, check=False, timeout=600) if made.returncode == 0 else made
        if pip.returncode:
            pytest.skip(f"cannot install cffconvert from PyPI here: {(pip.stderr or pip.stdout).strip()[-200:]}")
    return exe


def _validate(exe: Path, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(exe), "--validate", "-i", str(path)], capture_output=True, text=True, check=False)


def test_citation_cff_is_valid_cff_1_2_0(cffconvert: Path) -> None:
    proc = _validate(cffconvert, ROOT / "CITATION.cff")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "valid according to schema version 1.2.0" in proc.stdout


def test_cffconvert_rejects_a_broken_copy(cffconvert: Path, tmp_path: Path) -> None:
    """Positive control: the validator does fail on a file that breaks the schema."""
    meta = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    meta["preferred-citation"]["type"] = "blogpost-ish"
    broken = tmp_path / "CITATION.cff"
    broken.write_text(yaml.safe_dump(meta, allow_unicode=True))
    assert _validate(cffconvert, broken).returncode != 0


def test_citation_names_the_paper_and_the_artifact() -> None:
    meta = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    paper = meta["preferred-citation"]
    assert paper["title"] == "SHIFT: Exploring the Boundary of RDMA Network Fault Tolerance"
    assert "arXiv:2512.11094" in [i["value"] for i in paper["identifiers"]]
    assert paper["url"] == "https://arxiv.org/abs/2512.11094"
    assert meta["type"] == "software" and meta["authors"] == [{"name": "The shift artifact authors"}]
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert meta["version"] == version


def test_license_is_the_mit_license_pyproject_declares() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License\n")
    assert "Copyright (c)" in text and "The shift artifact authors" in text
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == {"text": "MIT"}
    assert yaml.safe_load((ROOT / "CITATION.cff").read_text())["license"] == "MIT"
