"""The data-driven fragments of every chapter, rendered from ``data/`` into ``book/_generated/``.

Chapters are hand-written MyST pages that ``{include}`` these fragments; each fragment is a pure function of
the data files (and of ``shift_core``'s own tables), so the same data always renders the same book. A result
the run did not produce renders as "not generated in this run: <path>", never as placeholder numbers.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import diagrams, seqdiagram
from .data import DataRoot, check_records
from .markdown import admonition, code, dict_table, not_generated, table

#: what each backend reproduces, and what it needs (the hardware matrix of chapter 1)
BACKEND_ROLES: dict[str, tuple[str, str]] = {
    "sim": ("every correctness result (fault matrix, strategies, handshake, fence) and the shape of every "
            "timing figure, in virtual time", "nothing: the embedded default, runs everywhere"),
    "rxe": ("the same workloads on real kernel soft-RoCE (libibverbs, pyverbs, perftest): real error "
            "completions, async events and failover downtime; same-run overhead ratios",
            "QEMU + debootstrap (built by the pipeline; TCG is slow, so no absolute speed)"),
    "nic": ("absolute numbers: throughput (Fig 7), sub-millisecond downtime (Fig 8b), verb costs (Fig 9), "
            "latency (Table 2)", "two hosts with two RDMA NICs each, named in config"),
}

def _steps(*rows: tuple[str, str, str]) -> list[dict[str, Any]]:
    return [{"src": a, "dst": b, "label": label, "lost": False} for a, b, label in rows]


#: the receive-counter handshake after a fault on side A (paper §4.3.2), as a drawable diagram
HANDSHAKE: dict[str, Any] = {"title": "Fallback: the receive-counter handshake", "lanes": ["side A", "side B"],
                             "steps": _steps(
    ("side A", "side A", "error WC polled; CQ drained into the WC buffer"),
    ("side A", "side A", "retransmission-safe? (no atomic / flagged WR)"),
    ("side A", "side A", "outstanding RECVs reposted on backup QP"),
    ("side A", "side B", "WRITE_WITH_IMM on backup, imm = A's recv counter"),
    ("side B", "side B", "CQ event; RECVs reposted on backup"),
    ("side B", "side A", "WRITE_WITH_IMM (ACK), imm = B's recv counter"),
    ("side B", "side B", "skip sends A already received; rewind rest"),
    ("side A", "side A", "skip sends B already received; rewind rest"),
    ("side A", "side A", "default QP reset; probed periodically"))}

#: the fence-based switch-back after the default path recovers (paper §4.3.3)
FENCE: dict[str, Any] = {"title": "Switch-back: the WR execution fence", "lanes": ["side A", "side B"],
                         "steps": _steps(
    ("side A", "side A", "probe WRITE on default QP completes: WAIT_SIGNALED"),
    ("side A", "side A", "app's next signaled WR = fence, on backup: WAIT_DRAINED"),
    ("side A", "side A", "later WRs queued on default QP, doorbell withheld"),
    ("side A", "side A", "fence WC polled: ring doorbell for notification only"),
    ("side A", "side B", "WRITE_WITH_IMM notification on default QP"),
    ("side B", "side B", "CQ event: RECVs reposted on default QP"),
    ("side A", "side A", "notification done: ring withheld WRs: DEFAULT"))}

def _num(text: str) -> str:
    """A measured value for display: long floats to 4 significant digits, anything else verbatim."""
    try:
        value = float(text)
    except ValueError:
        return text
    return text if len(text) <= 7 else f"{value:.4g}"


def claims_table(claims: list[dict[str, str]], with_note: bool = False) -> str:
    """Claims as paper value beside ours (per backend), compact enough to read: one row per claim."""
    rows = []
    for c in claims:
        unit = f" [{c['unit']}]" if c.get("unit") else ""
        paper = " ".join(x for x in (c.get("paper", ""), f"({c['paper_text']})" if c.get("paper_text") else "") if x)
        ours = "; ".join(f"{b}: {_num(c[b])}" for b in ("sim", "rxe", "nic") if c.get(b))
        row = [f"`{c.get('id', '')}` {c.get('claim', '')}{unit}", paper, ours or "—", f"**{c.get('status', '')}**"]
        rows.append([*row, c.get("note", "")] if with_note else row)
    headers = ["claim", "paper", "ours", "status"] + (["note"] if with_note else [])
    return table(headers, rows)


def skipped(obj: Any) -> bool:
    """Whether a result file is the pipeline's "skipped" stub (a manifest-like dict, ``status != ok``)."""
    return isinstance(obj, dict) and obj.get("status") not in (None, "ok") and "check_id" not in obj


def skipped_rows(display: str, rows: list[dict[str, str]]) -> str:
    """The note for a CSV that is the pipeline's "skipped" stub (``status,reason`` rows), else ``""``."""
    if rows and set(rows[0]) == {"status", "reason"} and all(r.get("status") != "ok" for r in rows):
        return not_generated(display, f"skipped in this run ({rows[0].get('reason') or 'no reason'})")
    return ""


def figure_of(claim: dict[str, str], stems: list[str]) -> str | None:
    """The figure a claim belongs to: its ``figure`` column if any, else by its id's first word.

    A claim ``fig8b_sender_nic_write`` belongs to a figure whose name contains the word ``fig8b``; when several
    do (``fig8b_downtime``, ``fig8b_detection``), the one whose other words occur in the claim wins.
    """
    named = (claim.get("figure") or "").strip()
    if named:
        stem = Path(named).stem
        return stem if stem in stems else None
    word = (claim.get("id") or "").split("_")[0]
    candidates = [s for s in stems if word and word in s.split("_")]
    text = " ".join(str(v) for v in claim.values()).lower()
    best = [s for s in candidates if any(w in text for w in s.split("_") if w != word)]
    return best[0] if best else candidates[0] if candidates else None


_RUNTIME_KEYS = ("wall_seconds", "seconds", "elapsed_s", "duration_s", "runtime_s")


@dataclass
class Renderer:
    """Renders every fragment; ``files`` maps a path under ``_generated/`` to its content."""

    data: DataRoot
    files: dict[str, str | bytes] = field(default_factory=dict)

    # -- helpers -------------------------------------------------------------------------------------
    def emit(self, rel: str, content: str | bytes) -> str:
        """Queue ``content`` for ``_generated/<rel>``; returns the srcdir-absolute path for links/images."""
        self.files[rel] = content
        return f"/_generated/{rel}"

    def diagram(self, drawable: dict[str, Any] | list[str], slug: str, title: str) -> str:
        """A sequence diagram as a figure: ``drawable`` is a ``Diagram.to_json`` dict or event labels."""
        if isinstance(drawable, dict):
            spec = {"title": drawable.get("title") or title, **drawable}
        else:
            spec = seqdiagram.from_labels(drawable, title)
        path = self.emit(f"diagrams/{slug}.svg", seqdiagram.render(spec))
        return f"\n```{{figure}} {path}\n:alt: {spec['title']}\n:width: 100%\n\n{spec['title']}\n```\n\n"

    # -- chapter 1 -----------------------------------------------------------------------------------
    def status(self) -> None:
        rows = []
        manifests = self.data.manifests()
        for backend, (what, needs) in BACKEND_ROLES.items():
            man = manifests.get(backend)
            if man is None:
                state = "not generated in this run"
            else:
                state = str(man.get("status", "?")) + (f": {man['reason']}" if man.get("reason") else "")
            rows.append([f"`{backend}`", what, needs, state])
        out = table(["backend", "what it reproduces", "what it needs", "this run (`data/<backend>/`)"], rows)
        times = []
        for stage, man in manifests.items():
            secs = next((man[k] for k in _RUNTIME_KEYS if isinstance(man.get(k), (int, float))), None)
            times.append([f"`{stage}`", man.get("status", "?"), "not recorded" if secs is None else f"{secs:.1f} s"])
        theorem_secs = self._theorem_seconds()
        out += "\n**Run times recorded by this run's manifests** (`data/<stage>/manifest.json`):\n\n"
        if times:
            out += table(["stage", "status", "wall time"], times)
        else:
            out += not_generated("data/<stage>/manifest.json")
        if theorem_secs is not None:
            out += (f"\nThe theorem checks' own search time (sum of the records' `seconds`): "
                    f"**{theorem_secs:.2f} s**.\n")
        self.emit("status.md", out)

    def _theorem_seconds(self) -> float | None:
        total, seen = 0.0, False
        for rel in self.data.files("theorems", ".json"):
            for rec in check_records(self.data.json(rel)):
                if isinstance(rec.get("seconds"), (int, float)):
                    total, seen = total + float(rec["seconds"]), True
        return total if seen else None

    def trilemma(self, strategies: dict[str, tuple[str, str]]) -> None:
        """The Trilemma map from ``shift_core.shift.strategy.STRATEGY_TABLE`` (strategy -> gives up, summary)."""
        path = self.emit("trilemma.svg", diagrams.trilemma_svg({s: g for s, (g, _) in strategies.items()}))
        rows = [[f"`{s}`", g.replace("_", "-"), summary] for s, (g, summary) in strategies.items()]
        self.emit("trilemma.md", f"\n```{{figure}} {path}\n:alt: The Trilemma\n:width: 90%\n\n"
                                 "The Trilemma: each strategy sits beside the two properties it keeps.\n```\n\n"
                  + table(["strategy", "gives up", "what it does"], rows)
                  + "\nFrom `shift_core.shift.strategy.STRATEGY_TABLE`, where each strategy declares what it "
                    "gives up.\n")

    # -- chapter 2 and 7: the Rocq cross-reference ---------------------------------------------------
    def xref_rows(self) -> list[dict[str, Any]] | None:
        obj = self.data.json("theorems/rocq_xref.json")
        if obj is None:
            return None
        if isinstance(obj, dict):
            for key in ("rows", "entries", "xref", "items"):
                if isinstance(obj.get(key), list):
                    obj = obj[key]
                    break
            else:
                obj = [{"name": k, **(v if isinstance(v, dict) else {"value": v})} for k, v in obj.items()]
        return [r for r in obj if isinstance(r, dict)] if isinstance(obj, list) else []

    def xref(self) -> None:
        rows = self.xref_rows()
        preferred = ("rocq", "rocq_loc", "paper", "paper_loc", "python", "check", "kind", "note")
        if rows is None:
            core = full = not_generated("data/theorems/rocq_xref.json")
        else:
            core_rows = [r for r in rows if "core/" in json.dumps(r).lower()]
            core = dict_table(core_rows, preferred) if core_rows else admonition(
                "note", "The cross-reference has no rows for Rocq `Core/*.v` in this run.")
            full = dict_table(rows, preferred) + f"\n{len(rows)} rows, from `data/theorems/rocq_xref.json`.\n"
        self.emit("model_xref.md", core)
        self.emit("xref.md", full)

    # -- chapter 3: theorem records ------------------------------------------------------------------
    def record(self, rec: dict[str, Any], level: str = "###") -> str:
        cid = str(rec.get("check_id", "?"))
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "__", cid)
        passed = rec.get("passed")
        source = {"paper": "the paper's claim", "theorem": "the theorem"}.get(str(rec.get("expected_from")), "")
        expected = f"expected {rec.get('expected')}" + (f", from {source}" if source else "")
        if rec.get("disagrees_with_paper"):
            outcome = " — **disagrees with the paper** (complete search, controls passed)"
        else:
            outcome = " — **check passed**" if passed else " — **CHECK FAILED**" if passed is False else ""
        verdict = f"{rec.get('verdict')} ({expected}){outcome}"
        out = f"{level} `{cid}`: {rec.get('title', '')}\n\n"
        if rec.get("disagrees_with_paper"):
            out += admonition("important", f"The search's verdict (**{rec.get('verdict')}**) differs from what the "
                                           f"paper implies (**{rec.get('expected')}**). This is reported as found, "
                                           "not tuned away; see the notes below.", title="Disagreement with the paper")
        out += table(["field", "value"], [
            ["kind", {"W": "W (witness)", "E": "E (bounded exhaustive search)", "P": "P (property-based)"}
             .get(str(rec.get("kind")), rec.get("kind"))],
            ["Rocq name (a6e39e0)", f"`{rec['rocq_name']}`" if rec.get("rocq_name") else "not mechanized in Rocq"],
            ["paper name (e3e862e)", f"`{rec['paper_name']}`" if rec.get("paper_name") else "same as Rocq"],
            ["trace universe / mode", rec.get("mode", "")],
            ["bound", rec.get("bound", {})],
            ["verdict", verdict],
            ["states generated", rec.get("states")],
            ["distinct states", rec.get("unique_states")],
            ["max depth", rec.get("max_depth")],
            ["search complete", rec.get("complete")],
            ["seconds", rec.get("seconds")],
        ])
        controls = rec.get("controls") or []
        if controls:
            out += "\n**Positive controls** (each must succeed, so the search is not vacuous):\n\n"
            out += table(["control", "passed", "detail"],
                         [[c.get("name"), c.get("passed"), c.get("detail", "")] for c in controls])
        if rec.get("counts"):
            out += "\n**Counts:**\n\n" + table(["quantity", "value"], sorted(rec["counts"].items()))
        cex = [str(s) for s in rec.get("counterexample") or []]
        drawn = [d for d in ([rec["diagram"]] if isinstance(rec.get("diagram"), dict) else [])
                 + list(rec.get("diagrams") or []) if isinstance(d, dict)]
        if cex:
            out += f"\n**Shortest counterexample** ({len(cex)} steps):\n"
            if not drawn:
                out += self.diagram(cex, slug, f"{cid}: shortest counterexample")
            out += code("\n".join(f"{i + 1:>2}. {s}" for i, s in enumerate(cex)))
        for i, d in enumerate(drawn):
            out += self.diagram(d, f"{slug}.d{i + 1}", f"{cid}: diagram {i + 1}")
        pair = [[str(s) for s in t] for t in rec.get("counterexample_pair") or []]
        if pair and not drawn:
            out += "\n**Counterexample pair** (traces the check sets side by side, e.g. equal sender views):\n"
            for i, t in enumerate(pair):
                out += self.diagram(t, f"{slug}.pair{i + 1}", f"{cid}: trace {i + 1} of the pair")
        if not cex and not pair and not drawn:
            out += "\nNo counterexample in this record (verdict: holds).\n"
        if rec.get("notes"):
            out += "\n" + admonition("note", str(rec["notes"]), title="Notes from the check")
        return out

    def theorem(self, check_id: str) -> list[dict[str, Any]]:
        rel = f"theorems/{check_id}.json"
        obj = self.data.json(rel)
        recs = check_records(obj)
        if obj is None:
            out = not_generated(self.data.display(rel))
        elif not recs and skipped(obj):
            out = not_generated(self.data.display(rel), f"skipped in this run ({obj.get('reason') or 'no reason'})")
        elif not recs:
            out = admonition("warning", f"`{self.data.display(rel)}` holds no check record; raw content:")
            out += code(json.dumps(obj, indent=1, sort_keys=True)[:4000], "json")
        else:
            out = "".join(self.record(r) for r in recs)
        self.emit(f"theorems/{check_id}.md", out)
        return recs

    def theorem_summary(self, by_id: dict[str, list[dict[str, Any]]]) -> None:
        rows: list[list[Any]] = []
        for cid, recs in by_id.items():
            if not recs:
                rows.append([f"{{doc}}`{cid} </theorems/{cid}>`", "not generated in this run", "", "", "", ""])
            for r in recs:
                rows.append([f"{{doc}}`{r.get('check_id')} </theorems/{cid}>`", r.get("rocq_name") or "—",
                             r.get("bound", {}), r.get("states"), r.get("verdict"),
                             r.get("counterexample_length", len(r.get("counterexample") or [])),
                             "yes" if r.get("passed") else "NO"])
        self.emit("theorems_summary.md", table(
            ["check", "Rocq name", "bound", "states", "verdict", "counterexample length", "passed"], rows))

    # -- chapter 4 -----------------------------------------------------------------------------------
    def boundary(self) -> None:
        obj = self.data.json("boundary/boundary.json")
        recs = check_records(obj)
        if obj is None:
            out = not_generated("data/boundary/boundary.json")
        elif not recs and skipped(obj):
            out = not_generated("data/boundary/boundary.json",
                                f"skipped in this run ({obj.get('reason') or 'no reason'})")
        elif recs:
            out = self.table1(obj) + "### Verdict per protocol check\n\n" + table(
                ["protocol check", "verdict", "expected", "passed", "states", "counterexample length"],
                [[f"`{r.get('check_id')}`", r.get("verdict"), r.get("expected"), r.get("passed"), r.get("states"),
                  r.get("counterexample_length", len(r.get("counterexample") or []))] for r in recs])
            out += "\n### Each protocol's search\n\n" + "".join(self.record(r, "####") for r in recs)
            sens = obj.get("sensitivity") if isinstance(obj, dict) else None
            if isinstance(sens, list) and sens and all(isinstance(r, dict) for r in sens):
                out += ("\n### Sensitivity to SHIFT's design choices\n\nEach check's verdict under every restart "
                        "policy and ACK granularity:\n\n:::{dropdown} "
                        f"{len(sens)} searches\n" + dict_table(sens) + ":::\n\n")
        else:
            out = admonition("note", "`data/boundary/boundary.json` is not a list of check records; shown as is:")
            out += code(json.dumps(obj, indent=1, sort_keys=True)[:6000], "json")
        cts = self.data.csv("boundary/cts_share.csv")
        out += "\n### The CTS share of RDMA bytes\n\n"
        out += not_generated("data/boundary/cts_share.csv") if cts is None else skipped_rows(
            "data/boundary/cts_share.csv", cts) or (
            dict_table(cts) + f"\n{len(cts)} rows from `data/boundary/cts_share.csv`; the paper says CTS bytes are "
            "**< 0.02 %** of RDMA traffic in its training setting.\n")
        self.emit("boundary.md", out)

    def table1(self, obj: Any) -> str:
        """The paper's Table 1 beside the derived verdicts, and every disagreement (from ``boundary.json``)."""
        if not isinstance(obj, dict) or not isinstance(obj.get("paper_table1"), dict):
            return ""
        paper, derived = obj["paper_table1"], obj.get("summary") or {}
        rows = [[f"`{p}`", v, derived.get(p, "not searched"), "yes" if derived.get(p) == v else "**no**"]
                for p, v in paper.items()]
        out = "### Table 1: the paper's verdict beside the search's\n\n"
        out += table(["protocol", "paper", "derived by the search", "agree"], rows)
        if isinstance(obj.get("bound"), dict):
            out += f"\nBound: `{json.dumps(obj['bound'], sort_keys=True)}`.\n"
        for d in obj.get("disagreements") or []:
            if isinstance(d, dict):
                out += admonition("important", f"Paper: **{d.get('paper')}**; search: **{d.get('model')}**.\n\n"
                                               f"{d.get('notes', '')}",
                                  title=f"Disagreement: {d.get('check_id')}")
        return out + "\n"

    # -- chapter 5 -----------------------------------------------------------------------------------
    def design(self) -> dict[str, tuple[str, str]]:
        """The state machines, handshake and fence figures; returns strategy -> (gives up, summary)."""
        from shift_core.shift import machine

        out = ""
        for name, trans, title in (("sq", machine.SQ_TRANSITIONS, "Send queue (SQ_TRANSITIONS)"),
                                   ("rq", machine.RQ_TRANSITIONS, "Receive queue (RQ_TRANSITIONS)")):
            path = self.emit(f"machine_{name}.svg", diagrams.state_machine_svg(trans, title))
            out += f"### {title}\n\n```{{figure}} {path}\n:alt: {title}\n:width: 100%\n\n{title}, drawn from "
            out += f"`shift_core.shift.machine.{name.upper()}_TRANSITIONS` ({len(trans)} transitions).\n```\n\n"
            out += f":::{{dropdown}} The {len(trans)} transitions as a table\n"
            out += table(["from", "event", "to"], [[f"`{s.name}`", f"`{e.name}`", f"`{d.name}`"]
                                                   for (s, e), d in trans.items()]) + ":::\n\n"
        self.emit("machine.md", out)
        for name, spec in (("handshake", HANDSHAKE), ("fence", FENCE)):
            path = self.emit(f"{name}.svg", seqdiagram.render(spec))
            self.emit(f"{name}.md", f"\n```{{figure}} {path}\n:alt: {spec['title']}\n:width: 100%\n\n"
                                    f"{spec['title']} (paper §4.3, Fig 5).\n```\n\n")
        from shift_core.shift.strategy import STRATEGY_TABLE

        return {name: (st.gives_up, st.summary) for name, st in STRATEGY_TABLE.items()}

    # -- chapter 6 -----------------------------------------------------------------------------------
    def results(self) -> None:
        claims = self.data.csv("claims.csv")
        figures = self.data.files("figures", ".png")
        stems = [Path(rel).stem for rel in figures]
        out = "## Figures\n\n"
        if not figures:
            out += not_generated("data/figures/*.png")
        for rel in figures:
            raw = (self.data.root / rel).read_bytes()
            stem = Path(rel).stem
            path = self.emit(f"figures/{Path(rel).name}", raw)
            out += f"### `{stem}`\n\n```{{figure}} {path}\n:alt: {stem}\n:width: 100%\n\n`data/{rel}`\n```\n\n"
            related = [c for c in claims or [] if figure_of(c, stems) == stem]
            if related:
                out += "Paper claims this figure speaks to (from `data/claims.csv`):\n\n" + claims_table(related)
        out += "\n## Every claim: the paper's number beside ours\n\n"
        if claims is None:
            out += not_generated("data/claims.csv")
        else:
            out += claims_table(claims, with_note=True)
            out += (f"\n{len(claims)} claims from `data/claims.csv` (generated by the pipeline; the paper's values "
                    "come from the one reference table under `config/`).\n")
        out += "\n## Tables from the pipeline\n\n"
        csvs = [r for stage in ("sim", "rxe", "nic", "fastpath", "figures")
                for r in self.data.files(stage, ".csv")] if self.data.root.is_dir() else []
        if not csvs:
            out += "No result tables (`data/{sim,rxe,nic,fastpath,figures}/**/*.csv`) in this run.\n"
        for rel in csvs:
            rows = self.data.csv(rel) or []
            shown = rows[:12]
            out += f"### `data/{rel}`\n\n"
            note = skipped_rows(f"data/{rel}", rows)
            if note:
                out += note
                continue
            out += dict_table(shown) if shown else "(empty)\n"
            if len(rows) > len(shown):
                out += f"\nFirst {len(shown)} of {len(rows)} rows; the full table is `data/{rel}`.\n"
            out += "\n"
        self.emit("results.md", out)

    # -- chapter 7 -----------------------------------------------------------------------------------
    def api(self, importer: Callable[[str], object] = importlib.import_module) -> None:
        import shift_core

        found = pkgutil.walk_packages(shift_core.__path__, "shift_core.")
        names = ["shift_core", *sorted(m.name for m in found
                                       if not any(p.startswith("_") for p in m.name.split(".")[1:]))]
        ok, failed = [], []
        for name in names:
            try:
                importer(name)
                ok.append(name)
            except Exception as exc:
                failed.append((name, "".join(traceback.format_exception_only(type(exc), exc)).strip()))
        out = (f"{len(ok)} modules of `shift_core` are documented below, generated by Sphinx autodoc from "
               "their docstrings.\n\n")
        if failed:
            out += admonition("warning", "These modules could not be imported at build time, so they are not "
                                         "documented here:\n\n" + table(["module", "error"], failed))
        for name in ok:
            out += f"## `{name}`\n\n```{{eval-rst}}\n.. automodule:: {name}\n```\n\n"
        self.emit("api.md", out)

    def provenance(self) -> None:
        manifests = self.data.manifests()
        out = f"Data root of this build: `{self.data.root}`.\n\n"
        if manifests:
            out += "## Stage manifests\n\n"
            cols = ("status", "backend", "commit", "created", "config_hash", "reason", "host", "python")
            out += table(["stage", *cols], [[f"`data/{s}/`", *[m.get(c, "") for c in cols]]
                                            for s, m in manifests.items()])
            for stage, man in manifests.items():
                out += f"\n### `data/{stage}/manifest.json`\n\n" + code(json.dumps(man, indent=1, sort_keys=True),
                                                                      "json")
        else:
            out += not_generated("data/<stage>/manifest.json")
        out += "\n## Files this book looked for and did not find\n\n"
        out += (table(["path", "why"], [[f"`data/{p}`", why] for p, why in self.data.missing.items()])
                if self.data.missing else "None: every file the book reads was present.\n")
        self.emit("provenance.md", out)
