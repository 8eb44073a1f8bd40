"""The book's fixture has the shape of what the producers write TODAY: each test runs a real producer at a small
bound and compares its output's structure (keys, value types, CSV columns, PNG metadata) with the fixture's.

A producer that changes its format fails here until the fixture is regenerated (``make book-fixtures``), so the
book can never again be tested against a shape nobody writes (the bare-list theorem fixture that hid empty
theorem pages).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import producers
import pytest
from bookbuild import FIXTURE_DATA
from PIL import Image

FREE_MAPS = {"bound", "counts", "summary", "versions", "checks", "results", "config", "notes", "params"}


def shape(value: Any, key: str = "") -> Any:
    """The structure of a JSON value: dicts by key (maps with data-dependent keys, e.g. ``bound``, only as
    ``"map"``), lists by their first element, scalars by type (int and float are one ``number``)."""
    if isinstance(value, dict):
        return "map" if key in FREE_MAPS else {k: shape(v, k) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [shape(value[0], key)] if value else []
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return "null" if value is None else type(value).__name__


def same_shape(fresh: Any, fixture: Any, where: str) -> list[str]:
    """Differences between two shapes (``null`` and ``[]`` match anything: an optional or empty value)."""
    if fresh in ("null", []) or fixture in ("null", []):
        return []
    if isinstance(fresh, dict) and isinstance(fixture, dict):
        out = [f"{where}: key {k!r} is {'only in the fresh output' if k in fresh else 'only in the fixture'}"
               for k in sorted(set(fresh) ^ set(fixture))]
        for k in sorted(set(fresh) & set(fixture)):
            out += same_shape(fresh[k], fixture[k], f"{where}.{k}")
        return out
    if isinstance(fresh, list) and isinstance(fixture, list):
        return same_shape(fresh[0], fixture[0], f"{where}[]")
    return [] if fresh == fixture else [f"{where}: {fresh} in the fresh output, {fixture} in the fixture"]


def load(path: Path) -> Any:
    return json.loads(path.read_text())


def columns(path: Path) -> list[str]:
    with path.open(newline="") as fh:
        return next(csv.reader(fh))


REGENERATE = "the fixture no longer has the producers' shape: run `make book-fixtures`"


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small real run: two fast theorem checks, the boundary search, two benchmarks, a 20-run matrix."""
    data = tmp_path_factory.mktemp("fresh")
    producers.theorems(data / "theorems", ["core_laws", "thm2_queue_sliding"])
    producers.boundary(data / "boundary", 2)
    producers.bench("downtime", data / "sim", {"sites": ["sender_nic"], "ops": ["write"]})
    producers.bench("latency", data / "sim", {"sizes": [1], "iterations": 10, "idle_qps": 2})
    producers.faults(data / "sim" / "faults", 20)
    producers.stage_manifest(data, "sim", "sim", 1.0)
    producers.figure("fig8b_downtime", [data / "sim" / "downtime.csv"], data / "figures" / "fig8b_downtime.png")
    return data


def test_theorem_files_have_the_runners_shape(fresh: Path) -> None:
    made = load(fresh / "theorems" / "thm2_queue_sliding.json")
    for path in sorted((FIXTURE_DATA / "theorems").glob("*.json")):
        if path.name in ("manifest.json", "rocq_xref.json"):
            continue
        problems = same_shape(shape(made), shape(load(path)), path.name)
        for rec in load(path)["results"]:  # every record, not only the first
            problems += same_shape(shape(made["results"][0]), shape(rec), f"{path.name}:{rec['check_id']}")
        assert not problems, REGENERATE + "\n" + "\n".join(problems)
    xref = same_shape(shape(load(fresh / "theorems" / "rocq_xref.json")),
                      shape(load(FIXTURE_DATA / "theorems" / "rocq_xref.json")), "rocq_xref.json")
    assert not xref, REGENERATE + "\n" + "\n".join(xref)


def test_boundary_results_have_the_stages_shape(fresh: Path) -> None:
    made, fixture = load(fresh / "boundary" / "boundary.json"), load(FIXTURE_DATA / "boundary" / "boundary.json")
    problems = same_shape(shape(made), shape(fixture), "boundary.json")
    for rec in fixture["protocols"]:
        problems += same_shape(shape(made["protocols"][0]), shape(rec), f"boundary.json:{rec['check_id']}")
    assert not problems, REGENERATE + "\n" + "\n".join(problems)
    assert columns(fresh / "boundary" / "cts_share.csv") == columns(FIXTURE_DATA / "boundary" / "cts_share.csv")


def test_tables_have_the_producers_columns(fresh: Path) -> None:
    from shift_core.bench.claims import COLUMNS

    for rel in ("sim/downtime.csv", "sim/latency.csv", "sim/faults/faults.csv"):
        assert columns(fresh / rel) == columns(FIXTURE_DATA / rel), f"{rel}: {REGENERATE}"
    for rel in ("sim/downtime.json", "sim/faults/faults.json", "sim/manifest.json"):
        problems = same_shape(shape(load(fresh / rel)), shape(load(FIXTURE_DATA / rel)), rel)
        assert not problems, REGENERATE + "\n" + "\n".join(problems)
    assert columns(FIXTURE_DATA / "claims.csv") == list(COLUMNS), f"claims.csv: {REGENERATE}"


def test_figures_carry_the_scripts_metadata(fresh: Path) -> None:
    made = Image.open(fresh / "figures" / "fig8b_downtime.png").text
    fixture = Image.open(FIXTURE_DATA / "figures" / "fig8b_downtime.png").text
    assert set(made) == set(fixture), REGENERATE
    assert made["shift:paper_item"] == fixture["shift:paper_item"] == "Fig 8b"
