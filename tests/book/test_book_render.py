"""The book's renderers without a Sphinx build: diagrams, data access in the producers' shape, claims, honest
placeholders, no machine paths, MathJax wiring."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

import pytest
from shift_book import (
    canonical_name,
    claims,
    diagrams,
    provenance,
    render_all,
    seqdiagram,
    vendored_mathjax,
    write_changed,
)
from shift_book.data import DataRoot, check_file, records_of
from shift_book.fragments import Renderer, claim_home, figure_meta, skipped
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
    assert not seqdiagram.is_trace(["2 receive WQEs", "m1 -> B2"])
    labels = ["S: CAS(a0,0->1) -> ok", "P: CAS(a0,1->0) -> ok", "S: retry CAS(a0,0->1)"]
    assert seqdiagram.is_trace(labels) and seqdiagram.is_trace(["Send(WRITE(a0,1))", "Timeout(WRITE(a0,1))"])
    spec = seqdiagram.from_labels(labels, "t")
    assert spec["lanes"] == ["S", "P", "memory"]
    assert [(s["src"], s["dst"]) for s in spec["steps"]] == [("S", "memory"), ("P", "memory"), ("S", "memory")]


def _svg_text(svg: str) -> str:
    return " ".join("".join(t.itertext()) for t in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}text"))


def test_sequence_diagram_is_valid_svg_with_every_step() -> None:
    labels = ["Send(WRITE(a0,1))", "PacketLost(WRITE(a0,1))", "Timeout(WRITE(a0,1))", "odd <step> & more"]
    svg = seqdiagram.render(seqdiagram.from_labels(labels, "T1 <packet lost>"))
    text = _svg_text(svg)
    for i, label in enumerate(labels, start=1):
        assert f"{i}. {label}" in text
    assert list(ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}path"))  # the lost packet's cross


def test_long_step_labels_wrap_and_are_never_cut() -> None:
    """Every character of a long label is in the picture (boundary steps run to 90+ characters)."""
    label = ("isend step 2: read slots[0].addr = 101 (expects 103); WRITE data there + WRITE_WITH_IMM; "
             "memset(slot 0, 0) and_a_very_long_identifier_without_any_space_in_it_at_all_to_split_somewhere")
    svg = seqdiagram.render({"title": "t", "lanes": ["sender", "nic", "receiver"],
                             "steps": [{"src": "sender", "dst": "sender", "label": label},
                                       {"src": "sender", "dst": "receiver", "label": label}]})
    root = ET.fromstring(svg)
    assert "…" not in _svg_text(svg)
    for number, text in enumerate(t for t in root.iter("{http://www.w3.org/2000/svg}text")
                                  if "".join(t.itertext()).startswith(("1.", "2."))):
        spans = [s.text or "" for s in text.iter("{http://www.w3.org/2000/svg}tspan")]
        assert len(spans) > 1, "a long label wraps onto several lines"
        assert "".join(spans).replace(" ", "") == f"{number + 1}. {label}".replace(" ", "")
    assert int(root.get("width", "0")) == seqdiagram.WIDTH


def test_state_machine_svg_draws_every_transition_legibly() -> None:
    """Every transition is labelled, and the picture fits the book's column, so 12 px stays 12 px on the page."""
    from shift_core.shift.machine import RQ_TRANSITIONS, SQ_TRANSITIONS

    for table in (SQ_TRANSITIONS, RQ_TRANSITIONS):
        root = ET.fromstring(diagrams.state_machine_svg(table, "machine"))
        texts = list(root.iter("{http://www.w3.org/2000/svg}text"))
        words = {w for t in texts for w in (t.text or "").replace(" / ", "\n").split("\n")}
        for (src, event), dst in table.items():
            assert src.name in words and dst.name in words
            assert event.value in words, f"transition label {event.value} missing"
        assert int(root.get("width", "0")) <= 580, "wider than the book's column: the browser would shrink it"
        assert min(int(t.get("font-size", "0")) for t in texts) >= 12


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


def _record(**over: object) -> dict:
    from shift_core.model.check import CheckResult, Control

    base = CheckResult("thm2_atomics/x", "t", "E", "", "", "rocq", {"n": 2}, "counterexample", "counterexample",
                       5, 5, 2, True, 0.1, counterexample=("Send(WRITE(a0,1))",), controls=(Control("c", True),))
    return {**base.to_json(), **over}


def test_theorem_files_are_read_in_the_producers_shape_only(tmp_path: Path) -> None:
    """The runner's wrapper is opened (the old bug took it for one empty record); other shapes are refused."""
    rec = _record()
    cf = check_file({"check_id": "thm2_atomics", "passed": True, "wall_seconds": 0.1, "results": [rec]})
    assert [r.result.check_id for r in cf.records] == ["thm2_atomics/x"]
    assert cf.records[0].result.bound == {"n": 2} and cf.records[0].result.states == 5
    for bad in ([rec], rec, {"check_id": "x", "results": [{"check_id": "y"}]}):
        with pytest.raises(ValueError):
            check_file(bad)
    assert records_of([rec])[0].raw is rec
    assert skipped({"status": "skipped", "reason": "no qemu"}) and not skipped(rec)
    (tmp_path / "theorems").mkdir()
    (tmp_path / "theorems" / "bad.json").write_text("{not json")
    (tmp_path / "theorems" / "old.json").write_text(json.dumps([rec]))
    data = DataRoot(tmp_path)
    assert data.json("theorems/bad.json") is None
    assert data.missing["theorems/bad.json"].startswith("unreadable")
    assert data.check_file("theorems/old.json") is None
    assert "not a theorem check file" in data.missing["theorems/old.json"]


def test_an_old_shape_renders_as_a_warning_not_as_empty_results(tmp_path: Path) -> None:
    (tmp_path / "theorems").mkdir()
    (tmp_path / "theorems" / "thm2_atomics.json").write_text(json.dumps([_record()]))
    renderer = Renderer(DataRoot(tmp_path))
    renderer.theorem("thm2_atomics")
    page = str(renderer.files["theorems/thm2_atomics.md"])
    assert "not in the producers' record shape" in page and "shift-record" not in page


def test_claims_read_class_and_reason_and_fall_back_to_status_and_note() -> None:
    new = claims.Claim({"id": "a", "class": "by construction", "reason": "the timer is the formula"})
    old = claims.Claim({"id": "b", "status": "differs", "note": "sim has no CPU cost"})
    assert (new.klass, new.reason) == ("by construction", "the timer is the formula")
    assert (old.klass, old.reason) == ("differs", "sim has no CPU cost")
    text = claims.class_paragraphs([new, old, claims.Claim({"id": "c", "class": "differs", "reason": ""})])
    assert "**by construction** — 1 claim in this run" in text and "**no reason given** for `c`" in text
    assert claims.classes()[0] == "reproduced" and "by construction" in claims.classes()
    assert "the timer is the formula" in claims.claims_table([new])  # the whole reason, never cut


def test_claims_sit_beside_their_figure_or_their_page() -> None:
    stems = ["fig8b_downtime", "fault_matrix"]
    home = {cid: claim_home(claims.Claim({"id": cid, "figure": fig}), stems) for cid, fig in (
        ("fig8b_sender_nic_write", "fig8b_downtime"), ("boundary_nccl_ll", ""), ("thm1", ""),
        ("shift_atomics_surfaced", ""), ("other", "fig7_timeline"))}
    assert home == {"fig8b_sender_nic_write": "fig8b_downtime", "boundary_nccl_ll": "boundary", "thm1": "theorems",
                    "shift_atomics_surfaced": "fault_matrix", "other": None}


def test_no_machine_path_is_printed(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    text = (f"see {repo}/logs/book/build.log and {tmp_path}/elsewhere/data/x.csv; "
            "{doc}`/reference/provenance`, /_generated/x.svg, https://example.org/a/b and /dev/infiniband")
    out = provenance.scrub(text, repo, tmp_path / "elsewhere")
    assert str(tmp_path) not in out
    assert "logs/book/build.log" in out and "…/data/x.csv" in out
    assert "{doc}`/reference/provenance`" in out and "/_generated/x.svg" in out and "https://example.org/a/b" in out
    assert "/dev/infiniband" in out
    assert provenance.wall_time({"wall_seconds": 91.22}) == "91.2 s"
    assert provenance.wall_time({"status": "ok"}) == "not recorded"


def test_figure_captions_come_from_the_png() -> None:
    fixture = Path(__file__).resolve().parent / "fixtures" / "data" / "figures" / "fig8b_downtime.png"
    meta = figure_meta(fixture.read_bytes())
    assert meta["paper_item"] == "Fig 8b" and meta["title"].startswith("Fig 8b")
    assert "emulator" in meta["caption"]  # the sim's constant bars are called what they are
    assert figure_meta(b"not a png") == {}


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
