"""The figure scripts (workflow/scripts/figures) draw every backend that ran a benchmark, beside the sim.

Contract 2: a real backend writes ``data/<backend>/<stem>.csv`` with the sim's columns and
``data/<backend>/<stem>.json`` with ``{"manifest": {"status": ...}, "summary": ...}``. Here a synthetic rxe copy
of the Fig 8b and Table 2 tables (the sim's rows, scaled like a real soft-RoCE run) must show up as its own
panel, while a skipped or malformed copy must not; a flat sim panel is called an emulator constant on the figure.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "book"))
import producers

from shift_core.bench.figure import backend_frames, constant


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    producers.bench("downtime", root / "sim", {"sites": ["sender_nic", "switch_port"], "ops": ["write", "send"]})
    producers.bench("latency", root / "sim", {"sizes": [1, 8], "iterations": 20, "idle_qps": 4})
    return root


def synthetic_rxe(data: Path, stem: str, column: str, status: str = "ok") -> pd.DataFrame:
    """An rxe copy with the sim's columns and varied values (as a real backend's would be)."""
    frame = pd.read_csv(data / "sim" / f"{stem}.csv")
    frame[column] = [50_000.0 + 1_000.0 * i for i in range(len(frame))]
    (data / "rxe").mkdir(exist_ok=True)
    frame.to_csv(data / "rxe" / f"{stem}.csv", index=False)
    (data / "rxe" / f"{stem}.json").write_text(json.dumps({"manifest": {"status": status}, "summary": {}}))
    return frame


@pytest.mark.parametrize(("figure", "stem", "column"), [("fig8b_downtime", "downtime", "downtime_us"),
                                                         ("table2_latency", "latency", "latency_us")])
def test_rxe_is_drawn_beside_the_sim(data: Path, tmp_path: Path, figure: str, stem: str, column: str) -> None:
    sim_csv = data / "sim" / f"{stem}.csv"
    assert list(backend_frames(sim_csv)) == ["sim"]
    alone = tmp_path / "sim_only.png"
    producers.figure(figure, [sim_csv, data / "rxe" / "manifest.json"], alone)
    synthetic_rxe(data, stem, column)
    frames = backend_frames(sim_csv)
    assert list(frames) == ["sim", "rxe"] and set(frames["rxe"]["backend"]) == {"rxe"}
    assert constant(frames["sim"], column) is not None and constant(frames["rxe"], column) is None
    out = tmp_path / f"{figure}.png"
    producers.figure(figure, [sim_csv, data / "rxe" / "manifest.json"], out)
    meta = Image.open(out).text
    assert meta["shift:backends"] == "sim, rxe"
    assert meta["Title"].startswith(("Fig 8b", "Table 2")) and "emulator" in meta["Description"]
    assert Image.open(out).size[0] > 1.3 * Image.open(alone).size[0]  # a second panel, beside the sim's


def test_a_skipped_or_malformed_backend_is_not_drawn(data: Path) -> None:
    sim_csv = data / "sim" / "downtime.csv"
    synthetic_rxe(data, "downtime", "downtime_us", status="skipped")
    assert list(backend_frames(sim_csv)) == ["sim"]
    (data / "rxe" / "downtime.csv").write_text("backend,site,downtime_ms\nrxe,sender_nic,530\n")
    (data / "rxe" / "downtime.json").write_text(json.dumps({"manifest": {"status": "ok"}}))
    assert list(backend_frames(sim_csv)) == ["sim"], "a table without the sim's columns breaks contract 2"
    for name in ("downtime.csv", "downtime.json"):
        (data / "rxe" / name).unlink()


def test_every_figure_script_titles_and_captions_its_figure(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "fig8b_downtime.png"
    producers.figure("fig8b_downtime", [data / "sim" / "downtime.csv"], out)
    meta = Image.open(out).text
    assert meta["shift:paper_item"] == "Fig 8b" and meta["shift:backends"] == "sim"
    assert "every bar has the same value" in meta["Description"]
    scripts = sorted((producers.FIGURE_SCRIPTS).glob("*.py"))
    assert len(scripts) >= 9
    for script in scripts:
        text = script.read_text()
        assert "TITLE = " in text and "caption" in text, f"{script.name}: no title or caption"
        assert "paper_item" not in text or script.stem in {"fig7_timeline", "fig8b_downtime", "fig9_verbs_cost",
                                                            "table2_latency", "fig10_training"}, script.name
