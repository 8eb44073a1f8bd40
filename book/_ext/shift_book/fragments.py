"""The data-driven fragments of every chapter, rendered from ``data/`` into ``book/_generated/``.

Chapters are hand-written MyST pages that ``{include}`` these fragments; each fragment is a pure function of
the data files (and of ``shift_core``'s own tables), so the same data always renders the same book. A result
the run did not produce renders as "not generated in this run: <path>", never as placeholder numbers. Every
fragment passes through :func:`shift_book.provenance.scrub` on its way out, so no machine's absolute path is
ever printed.
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import pkgutil
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from . import claims as claimlib
from . import diagrams, faults, provenance, records, seqdiagram
from .data import DataRoot, Record, records_of
from .markdown import admonition, code_wbr, not_generated, table

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

#: the paper's own figures and tables the pipeline reproduces, in the paper's order (figure stem -> item)
PAPER_FIGURES = ("fig7_timeline", "fig8b_downtime", "fig9_verbs_cost", "table2_latency", "fig10_training")
#: figures that belong on another page than the results chapter (stem -> page that shows them)
FIGURE_PAGE = {"cts_share": "boundary"}
#: claims without a figure go where their evidence is shown (id prefix -> page or figure)
CLAIM_HOME = {"boundary_": "boundary", "thm": "theorems", "shift_": "fault_matrix"}


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


def skipped(obj: Any) -> bool:
    """Whether a result file is the pipeline's "skipped" stub (a manifest-like dict, ``status != ok``)."""
    return isinstance(obj, dict) and obj.get("status") not in (None, "ok") and "check_id" not in obj


def figure_meta(png: bytes) -> dict[str, str]:
    """The title, caption, paper item and backends a figure script stored in the PNG (``shift_core.bench.figure
    .META_KEYS``); empty for a PNG without them."""
    from PIL import Image

    from shift_core.bench.figure import META_KEYS

    try:
        text = dict(getattr(Image.open(io.BytesIO(png)), "text", {}) or {})
    except OSError:
        return {}
    return {k: str(text[v]) for k, v in META_KEYS.items() if text.get(v)}


def claim_home(claim: claimlib.Claim, stems: list[str]) -> str | None:
    """Where a claim is shown: its ``figure`` column if that figure exists, else by its id (:data:`CLAIM_HOME`)."""
    if claim.figure and claim.figure in stems:
        return claim.figure
    return next((home for prefix, home in CLAIM_HOME.items() if claim.id.startswith(prefix)), None)


@dataclass
class Renderer:
    """Renders every fragment; ``files`` maps a path under ``_generated/`` to its content."""

    data: DataRoot
    repo: Path = field(default_factory=lambda: Path(__file__).resolve().parents[3])
    files: dict[str, str | bytes] = field(default_factory=dict)
    _claims: list[claimlib.Claim] | None = None
    _rocq: set[str] = field(default_factory=set)

    # -- helpers -------------------------------------------------------------------------------------
    def emit(self, rel: str, content: str | bytes) -> str:
        """Queue ``content`` for ``_generated/<rel>`` (text scrubbed of absolute paths); returns the
        srcdir-absolute path for links and images."""
        text = isinstance(content, str)
        self.files[rel] = provenance.scrub(content, self.repo, self.data.root) if text else content
        return f"/_generated/{rel}"

    def claims(self) -> list[claimlib.Claim]:
        if self._claims is None:
            self._claims = claimlib.load(self.data.csv("claims.csv") or [])
        return self._claims

    def figure_stems(self) -> list[str]:
        return [Path(rel).stem for rel in self.data.files("figures", ".png")]

    def claims_for(self, home: str) -> list[claimlib.Claim]:
        stems = self.figure_stems()
        return [c for c in self.claims() if claim_home(c, stems) == home]

    def claims_block(self, home: str, intro: str = "The paper's claims this speaks to", explain: bool = True) -> str:
        found = self.claims_for(home)
        if not found:
            return ""
        where = "; classes are explained in {doc}`/results`" if explain else ""
        return f"\n{intro} (from `data/claims.csv`{where}):\n\n" + claimlib.claims_table(found) + "\n"

    def figure(self, stem: str, heading: str = "###", text: str = "", explain: bool = True) -> str:
        """A pipeline figure with its stored title and caption, ``text`` about it, then the claims about it."""
        rel = f"figures/{stem}.png"
        raw = (self.data.root / rel).read_bytes()
        meta = figure_meta(raw)
        path = self.emit(rel, raw)
        title = meta.get("title") or stem
        caption = meta.get("caption") or f"`data/{rel}`"
        item = meta.get("paper_item")
        out = f"{heading} {title}\n\n" if not item else f"{heading} {title}\n\n*Reproduces the paper's {item}.*\n\n"
        out += f"```{{figure}} {path}\n:alt: {title}\n:width: 100%\n\n{caption} `data/{rel}`\n```\n\n"
        return out + text + self.claims_block(stem, explain=explain)

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
        out += ("\nEvery stage's commit, versions and wall time are on {doc}`/reference/provenance`.\n")
        self.emit("status.md", out)

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
        rows = obj.get("rows") if isinstance(obj, dict) else obj
        return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []

    def xref(self) -> None:
        rows = self.xref_rows()
        if rows is None:
            core = full = not_generated("data/theorems/rocq_xref.json")
        else:
            self._rocq = {str(r.get("rocq")) for r in rows if r.get("rocq")}
            seen: set[str] = set()

            def render(r: dict[str, Any], anchors: bool) -> list[str]:
                name = str(r.get("rocq") or "")
                anchor = ""
                if anchors and name and name not in seen:
                    seen.add(name)
                    anchor = f'<span id="{records.rocq_anchor(name)}"></span>'
                loc = f"<br><small>{code_wbr(str(r['rocq_loc']))}</small>" if r.get("rocq_loc") else ""
                paper = (f"<br><small>paper: {code_wbr(str(r['paper']))}</small>"
                         if r.get("paper") and r.get("paper") != name else "")
                check = f"<br><small>check {code_wbr(str(r['check']))}</small>" if r.get("check") else ""
                return [(f"{anchor}{code_wbr(name)}" if name else "—") + loc + paper,
                        code_wbr(str(r.get("python", ""))) + check, str(r.get("kind", "")),
                        escape(str(r.get("note", "")))]

            heads = ["Rocq (file:line, paper name)", "Python (check)", "kind", "note"]
            core_rows = [r for r in rows if "core/" in json.dumps(r).lower()]
            core = table(heads, [render(r, False) for r in core_rows], raw=True) if core_rows else admonition(
                "note", "The cross-reference has no rows for Rocq `Core/*.v` in this run.")
            full = table(heads, [render(r, True) for r in rows], raw=True) + \
                f"\n{len(rows)} rows, from `data/theorems/rocq_xref.json`.\n"
        self.emit("model_xref.md", core)
        self.emit("xref.md", full)

    # -- chapter 3: theorem records ------------------------------------------------------------------
    def section(self, rec: Record, level: str, notes_seen: dict[str, str] | None = None) -> str:
        return f"({records.label(rec.result.check_id)})=\n" + records.record_section(
            rec, self.emit, self._rocq, "../reference/xref.html", level, notes_seen)

    def theorem(self, check_id: str) -> list[Record]:
        rel = f"theorems/{check_id}.json"
        obj = self.data.json(rel)
        recs: list[Record] = []
        if obj is None:
            out = not_generated(self.data.display(rel))
        elif skipped(obj):
            out = not_generated(self.data.display(rel), f"skipped in this run ({obj.get('reason') or 'no reason'})")
        else:
            cf = self.data.check_file(rel)
            if cf is None:
                out = admonition("warning", f"`{self.data.display(rel)}` is not in the producers' record shape "
                                            f"({self.data.missing.get(rel, '')}); nothing from it is shown.")
            else:
                recs = list(cf.records)
                failed = [r.result.check_id for r in recs if not r.result.passed]
                wall = f", {cf.wall_seconds:.2f} s of search" if cf.wall_seconds is not None else ""
                out = (f"{len(recs)} records in `{self.data.display(rel)}`{wall}: "
                       + ("**every record passed** (verdict as expected, search complete, every positive "
                          "control succeeded)." if not failed else f"**{len(failed)} FAILED**: "
                          + ", ".join(f"`{f}`" for f in failed) + ".") + "\n\n")
                out += records.summary_table(recs, lambda r: f"{{ref}}`{records.short_id(r.check_id)} "
                                                             f"<{records.label(r.check_id)}>`")
                out += "\n" + "".join(self.section(r, "###") for r in recs)
        self.emit(f"theorems/{check_id}.md", out)
        return recs

    def theorem_summary(self, by_id: dict[str, list[Record]]) -> None:
        out = ""
        for cid, recs in by_id.items():
            out += f"\n**{{doc}}`{cid}`**"
            if not recs:
                out += ": not generated in this run.\n"
                continue
            out += "\n\n" + records.summary_table(recs, lambda r: f"{{ref}}`{records.short_id(r.check_id)} "
                                                               f"<{records.label(r.check_id)}>`")
        self.emit("theorems_summary.md", out + self.claims_block("theorems", "The paper's theorem claims"))

    # -- chapter 4 -----------------------------------------------------------------------------------
    def boundary(self) -> None:
        obj = self.data.json("boundary/boundary.json")
        recs: list[Record] = []
        if obj is None:
            out = not_generated("data/boundary/boundary.json")
        elif skipped(obj):
            out = not_generated("data/boundary/boundary.json",
                                f"skipped in this run ({obj.get('reason') or 'no reason'})")
        else:
            try:
                recs = records_of(obj.get("protocols") if isinstance(obj, dict) else None)
            except ValueError as exc:
                self.data.missing.setdefault("boundary/boundary.json", f"unreadable: {exc}")
            if not recs:
                out = admonition("warning", "`data/boundary/boundary.json` holds no protocol records in the "
                                            "producers' shape; nothing from it is shown.")
            else:
                notes_seen: dict[str, str] = {}
                out = self.table1(obj, notes_seen) + self.claims_block("boundary", "The paper's Table 1 claims")
                out += "### Verdict per protocol check\n\n" + records.summary_table(
                    recs, lambda r: f"{{ref}}`{r.check_id} <{records.label(r.check_id)}>`")
                out += "\n### Each protocol's search\n\n" + "".join(self.section(r, "####", notes_seen)
                                                                        for r in recs)
                sens = obj.get("sensitivity")
                if isinstance(sens, list) and sens and all(isinstance(r, dict) for r in sens):
                    out += self.sensitivity(sens)
        out += "\n### The CTS share of RDMA bytes\n\n"
        if "cts_share" in self.figure_stems():
            out += self.figure("cts_share", "####")
        else:
            out += not_generated("data/figures/cts_share.png")
        self.emit("boundary.md", out)

    def sensitivity(self, rows: list[dict[str, Any]]) -> str:
        heads = ["check_id", "restart", "ack", "atomic_guard", "verdict", "unique_states", "violations"]
        body = [[f"`{r.get('check_id', '')}`", r.get("restart", ""), r.get("ack", ""),
                 "yes" if r.get("atomic_guard") else "no", r.get("verdict", ""),
                 f"{r.get('unique_states', 0):,}" if isinstance(r.get("unique_states"), int) else "",
                 ", ".join(map(str, r.get("violations") or [])) or "—"] for r in rows]
        return ("\n### Sensitivity to SHIFT's design choices\n\nEach check's verdict under every restart policy "
                f"(how SHIFT picks the first WR to resend) and ACK granularity:\n\n:::{{dropdown}} {len(rows)} "
                "searches\n" + table(heads, body) + ":::\n\n")

    def table1(self, obj: Any, notes_seen: dict[str, str]) -> str:
        """The paper's Table 1 beside the derived verdicts, and every disagreement (from ``boundary.json``);
        a note shared by several disagreements (LL and LL128) is printed once."""
        if not isinstance(obj, dict) or not isinstance(obj.get("paper_table1"), dict):
            return ""
        paper, derived = obj["paper_table1"], obj.get("summary") or {}
        rows = [[f"`{p}`", v, derived.get(p, "not searched"), "yes" if derived.get(p) == v else "**no**"]
                for p, v in paper.items()]
        out = "### Table 1: the paper's verdict beside the search's\n\n*Reproduces the paper's Table 1.*\n\n"
        out += table(["protocol", "paper", "derived by the search", "agree"], rows)
        if isinstance(obj.get("bound"), dict):
            out += f"\nBound: {records.fmt_bound(obj['bound']).replace('<br>', ', ')}.\n"
        notes: dict[str, list[dict[str, Any]]] = {}
        for d in obj.get("disagreements") or []:
            if isinstance(d, dict):
                notes.setdefault(str(d.get("notes", "")), []).append(d)
        for note, ds in notes.items():
            names = " and ".join(f"`{d.get('check_id')}`" for d in ds)
            verdicts = "; ".join(f"`{d.get('check_id')}`: paper **{d.get('paper')}**, search **{d.get('model')}**"
                                 for d in ds)
            out += f"(disagreement-{len(notes_seen) + 1})=\n" + admonition(
                "important", f"{verdicts}.\n\n{note}", title=f"Disagreement with the paper: {names.replace('`', '')}")
            notes_seen[note] = f"{{ref}}`the disagreement with the paper above <disagreement-{len(notes_seen) + 1}>`"
        return out + "\n"

    # -- chapter 5 -----------------------------------------------------------------------------------
    def design(self) -> dict[str, tuple[str, str]]:
        """The state machines, handshake and fence figures; returns strategy -> (gives up, summary)."""
        from shift_core.shift import machine

        out = ""
        for name, trans, title in (("sq", machine.SQ_TRANSITIONS, "Send queue"),
                                   ("rq", machine.RQ_TRANSITIONS, "Receive queue")):
            const = f"{name.upper()}_TRANSITIONS"
            path = self.emit(f"machine_{name}.svg", diagrams.state_machine_svg(trans, f"{title} ({const})"))
            out += f"### {title}\n\n```{{figure}} {path}\n:alt: {title} state machine\n\n"
            out += f"The {title.lower()} state machine, drawn from `shift_core.shift.machine.{const}` "
            out += f"({len(trans)} transitions).\n```\n\n"
            out += f":::{{dropdown}} The {len(trans)} transitions as a table\n"
            out += table(["from", "event", "to"], [[f"`{s.name}`", f"`{e.name}`", f"`{d.name}`"]
                                                   for (s, e), d in trans.items()]) + ":::\n\n"
        self.emit("machine.md", out)
        for name, spec in (("handshake", HANDSHAKE), ("fence", FENCE)):
            path = self.emit(f"{name}.svg", seqdiagram.render(spec))
            self.emit(f"{name}.md", f"\n```{{figure}} {path}\n:alt: {spec['title']}\n\n"
                                    f"{spec['title']} (the paper's §4.3 and its Fig 5).\n```\n\n")
        from shift_core.shift.strategy import STRATEGY_TABLE

        return {name: (st.gives_up, st.summary) for name, st in STRATEGY_TABLE.items()}

    # -- chapter 6 -----------------------------------------------------------------------------------
    def fault_matrix(self) -> str:
        rows = self.data.csv("sim/faults/faults.csv")
        if rows is None:
            return not_generated("data/sim/faults/faults.csv")
        cfg = self.data.json("sim/faults/faults.json")
        config = cfg.get("config", {}) if isinstance(cfg, dict) else {}
        return faults.prose(rows, config if isinstance(config, dict) else {})

    def results(self) -> None:
        claims = self.claims()
        stems = self.figure_stems()
        out = "## How to read the claims\n\n"
        if not claims:
            out += not_generated("data/claims.csv")
        else:
            buf = io.StringIO()
            writer = csv.DictWriter(buf, fieldnames=list(claims[0].row), lineterminator="\n")
            writer.writeheader()
            writer.writerows(c.row for c in claims)
            self.emit("claims.csv", buf.getvalue())
            out += (f"`data/claims.csv` holds {len(claims)} claims of the paper, each with the paper's value beside "
                    "ours on every backend that produced one, and a class:\n\n" + claimlib.class_paragraphs(claims)
                    + "Each claim is shown once, beside the figure or table it is about; "
                    "{download}`the complete table <_generated/claims.csv>` is one CSV.\n\n")
        out += "## The paper's figures and tables, reproduced\n\n"
        paper = [s for s in PAPER_FIGURES if s in stems]
        if not paper:
            out += not_generated("data/figures/*.png")
        out += "".join(self.figure(s, explain=False) for s in paper)
        own = [s for s in stems if s not in PAPER_FIGURES and s not in FIGURE_PAGE]
        out += "## The artifact's own figures\n\nNot figures of the paper: views the artifact adds to check the " \
               "paper's text and its design claims.\n\n"
        for stem in own:
            out += self.figure(stem, text=self.fault_matrix() if stem == "fault_matrix" else "", explain=False)
        rest = [c for c in claims if claim_home(c, stems) is None]
        if rest:
            out += "## Claims without a figure\n\n" + claimlib.claims_table(rest)
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
        out = f"Data root of this build: `{self.data.display_root(self.repo)}`.\n\n"
        if manifests:
            out += "## Stages\n\n" + provenance.stage_table(manifests)
            out += ("\nWall time is each manifest's `wall_seconds` (the stage's measured run time); "
                    "*not recorded* means the manifest has none.\n\n## Platform\n\n" + provenance.host_line(manifests))
            out += "\n## Package versions\n\n" + provenance.versions_table(manifests)
        else:
            out += not_generated("data/<stage>/manifest.json")
        out += "\n## Files this book looked for and did not find\n\n"
        out += (table(["path", "why"], [[f"`data/{p}`", why] for p, why in self.data.missing.items()])
                if self.data.missing else "None: every file the book reads was present.\n")
        self.emit("provenance.md", out)
