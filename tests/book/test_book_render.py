"""The book's renderers without a Sphinx build: diagrams, data access, honest placeholders, MathJax wiring."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

import pytest
from shift_book import canonical_name, diagrams, render_all, seqdiagram, vendored_mathjax, write_changed
from shift_book.data import DataRoot, check_records
from shift_book.fragments import figure_of, skipped, skipped_rows
from sphinx.errors import ExtensionError

from shift_core.model import diagram as model_diagram
from shift_core.model.events import (
    AckLost,
    AppConsume,
    AppReuse,
    Completion,
    Execute,
    Fault,
    PacketLost,
    PostRecv,
    Receive,
    Send,
    Timeout,
)
from shift_core.model.operations import FADD, FADDVal, Write, WriteAck


def test_label_lanes_match_the_models_diagram() -> None:
    """Labels are placed exactly as shift_core.model.diagram places the events they name."""
    w, f = Write(0, 1), FADD(0, 1)
    trace = (Send(w), PacketLost(w), Receive(w), Execute(w, WriteAck()), AckLost(w), Completion(f, FADDVal(0)),
             Timeout(w), AppConsume(0, 1), AppReuse(0, 2), PostRecv(3), Fault("link_down"))
    expected = [(s.src, s.dst, s.lost) for s in model_diagram.trace_diagram("t", trace).steps]
    labels = model_diagram.trace_labels(trace)
    got = [(s["src"], s["dst"], s["lost"]) for s in seqdiagram.steps_from_labels(labels)]
    assert got == expected


def test_unknown_steps_become_notes_and_schedules_get_actor_lanes() -> None:
    steps = seqdiagram.steps_from_labels(["2 receive WQEs", "m1 -> B2"])
    assert [(s["src"], s["dst"]) for s in steps] == [("*", "*"), ("*", "*")]
    spec = seqdiagram.from_labels(["S: CAS(a0,0->1) -> ok", "P: CAS(a0,1->0) -> ok", "S: retry CAS(a0,0->1)"], "t")
    assert spec["lanes"] == ["S", "P", "memory"]
    assert [(s["src"], s["dst"]) for s in spec["steps"]] == [("S", "memory"), ("P", "memory"), ("S", "memory")]


def test_sequence_diagram_is_valid_svg_with_every_step() -> None:
    labels = ["Send(WRITE(a0,1))", "PacketLost(WRITE(a0,1))", "Timeout(WRITE(a0,1))", "odd <step> & more"]
    svg = seqdiagram.render(seqdiagram.from_labels(labels, "T1 <packet lost>"))
    root = ET.fromstring(svg)
    text = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    for i, label in enumerate(labels, start=1):
        assert f"{i}. {label}" in text
    assert root.iter("{http://www.w3.org/2000/svg}path")  # the lost packet's cross


def test_state_machine_svg_draws_every_transition() -> None:
    from shift_core.shift.machine import RQ_TRANSITIONS, SQ_TRANSITIONS

    for table in (SQ_TRANSITIONS, RQ_TRANSITIONS):
        svg = diagrams.state_machine_svg(table, "machine")
        root = ET.fromstring(svg)
        text = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
        for (src, event), dst in table.items():
            assert src.name in text and dst.name in text
            assert event.value in text, f"transition label {event.value} missing"


def test_trilemma_places_every_strategy() -> None:
    svg = diagrams.trilemma_svg({"shift": "exactly_once", "staging": "zero_copy", "none": "continuity"})
    text = " ".join(t.text or "" for t in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}text"))
    assert "shift: gives up exactly-once" in text and "staging: gives up zero-copy" in text
    assert "none: gives up continuity" in text


def test_empty_data_root_renders_every_fragment_with_honest_notes(tmp_path: Path) -> None:
    data = DataRoot(tmp_path / "nothing")
    files = render_all(data)
    from shift_core.vocabulary import THEOREM_CHECKS

    for cid in THEOREM_CHECKS:
        assert "Not generated in this run: `data/theorems/" + cid + ".json`" in files[f"theorems/{cid}.md"]
    assert "Not generated in this run: `data/claims.csv`" in str(files["results.md"])
    assert "boundary/boundary.json" in data.missing
    assert "`data/claims.csv`" in str(files["provenance.md"])
    assert not any(str(rel).startswith("figures/") for rel in files)


def test_records_skipped_stubs_and_unreadable_files(tmp_path: Path) -> None:
    rec = {"check_id": "thm2_atomics/x", "verdict": "holds"}
    assert check_records(rec) == [rec]
    assert check_records([rec, {"other": 1}]) == [rec]
    assert check_records({"results": [rec]}) == [rec]
    assert skipped({"status": "skipped", "reason": "no qemu"}) and not skipped(rec)
    assert skipped_rows("x.csv", [{"status": "skipped", "reason": "r"}]).count("Skipped in this run") == 1
    assert skipped_rows("x.csv", [{"a": "1"}]) == ""
    (tmp_path / "theorems").mkdir()
    (tmp_path / "theorems" / "bad.json").write_text("{not json")
    data = DataRoot(tmp_path)
    assert data.json("theorems/bad.json") is None
    assert data.missing["theorems/bad.json"].startswith("unreadable")


def test_claims_are_matched_to_their_figure() -> None:
    stems = ["fig8b_downtime", "fig8b_detection", "fig7_timeline", "cts_share"]
    assert figure_of({"id": "fig8b_sender_nic_write", "claim": "Mean downtime, WRITE"}, stems) == "fig8b_downtime"
    assert figure_of({"id": "detection_nccl_t18", "claim": "detection latency"}, stems) == "fig8b_detection"
    assert figure_of({"id": "cts_share", "claim": "CTS bytes"}, stems) == "cts_share"
    assert figure_of({"id": "thm1", "claim": "Theorem 1"}, stems) is None
    assert figure_of({"id": "x", "figure": "fig7_timeline.png"}, stems) == "fig7_timeline"


def test_write_changed_rewrites_only_what_changed(tmp_path: Path) -> None:
    assert write_changed(tmp_path, {"a.md": "one", "d/b.svg": "<svg/>", "c.png": b"\x89PNG"}) == 3
    stale = tmp_path / "old" / "gone.md"
    stale.parent.mkdir()
    stale.write_text("stale")
    before = (tmp_path / "a.md").stat().st_mtime_ns
    assert write_changed(tmp_path, {"a.md": "one", "d/b.svg": "<svg/>", "c.png": b"\x89PNG!"}) == 1
    assert (tmp_path / "a.md").stat().st_mtime_ns == before
    assert not stale.exists() and not stale.parent.exists()


def test_vendored_mathjax_is_required(tmp_path: Path) -> None:
    assert vendored_mathjax(tmp_path) is None
    (tmp_path / "mathjax").mkdir()
    (tmp_path / "mathjax" / "tex-svg-full.js").write_text("")
    assert vendored_mathjax(tmp_path) == "mathjax/tex-svg-full.js"

    from shift_book import _configure_mathjax

    app = SimpleNamespace(srcdir=str(tmp_path / "nowhere"))  # no .vendor/static/mathjax under it
    with pytest.raises(ExtensionError, match=r"vendor_mathjax\.sh"):
        _configure_mathjax(app, SimpleNamespace())  # type: ignore[arg-type]


def test_reexported_names_resolve_to_their_home() -> None:
    import shift_core.backend as backend

    reexported = [n for n in getattr(backend, "__all__", []) if getattr(getattr(backend, n), "__module__", "")
                  .startswith("shift_core.backend.")]
    assert reexported, "shift_core.backend re-exports nothing (test premise)"
    name = reexported[0]
    obj = getattr(backend, name)
    assert canonical_name(f"shift_core.backend.{name}") == f"{obj.__module__}.{obj.__qualname__}"
    assert canonical_name(f"{obj.__module__}.{obj.__qualname__}") is None
    assert canonical_name("os.path.join") is None and canonical_name("shift_core.nope.Nothing") is None


def test_fixture_is_shaped_like_the_producers() -> None:
    """The fixture's theorem files are CheckResult.to_json records (or the pipeline's skipped stub)."""
    from shift_core.model.check import CheckResult, Control

    keys = set(CheckResult("x", "t", "E", "", "", "m", {}, "holds", "holds", 0, 0, 0, True, 0.0,
                           controls=(Control("c", True),)).to_json())
    fixture = Path(__file__).resolve().parent / "fixtures" / "data" / "theorems"
    for path in sorted(fixture.glob("*.json")):
        obj = json.loads(path.read_text())
        if path.name in ("manifest.json", "rocq_xref.json"):
            continue
        recs = check_records(obj)
        assert recs or skipped(obj), path.name
        for rec in recs:
            assert keys <= set(rec), f"{path.name}: {sorted(keys - set(rec))} missing"
