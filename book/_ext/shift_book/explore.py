"""The explorer's page (``book/explore.md``): what ``shift explore`` ran, the outcome of every (workload, strategy)
cell beside its expectation, every violation with its replayable schedule, and the failover machine's
(state, event) coverage, rendered from ``data/sim/explore/<mode>.json`` into ``_generated/explore.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .markdown import admonition, code, code_wbr, not_generated, table

if TYPE_CHECKING:
    from .fragments import Renderer

MODES = {"single": "Single faults", "pairs": "Pairs of faults"}
OUTCOMES = ("correct", "error_surfaced", "silent_corruption", "stall")


def _summary(doc: dict[str, Any]) -> str:
    run = doc["config"]["run"]
    out = doc["outcomes"]
    first = f", {doc['first_fault_runs']:,} first-fault runs (the census of their second faults)" \
        if doc.get("first_fault_runs") else ""
    return (f"**{doc['runs']:,} runs** ({doc['census_runs']} fault-free census runs{first}, "
            f"{doc['placements']:,} placements), **{doc['distinct_end_states']:,} distinct end states**; "
            + ", ".join(f"{o.replace('_', ' ')} {out[o]:,}" for o in OUTCOMES)
            + f". Bound: {run['n']} workload steps, RC timeout {run['timeout']} / retry {run['retry_cnt']}, "
            f"probe every {run['probe_interval_ns'] / 1000:g} µs, a sender step every {run['pace_ns'] / 1000:g} µs, "
            f"duplicate WRITEs `{run['dup_write']}`. Wall time {doc['wall_seconds']:.1f} s on "
            f"{doc['config']['processes']} process(es). Every expectation "
            + ("**met**" if doc["met"] else "**NOT met** (see below)") + ".\n\n")


_MARK = {"none": "=0", "some": ">0", "any": ""}


def _cells(doc: dict[str, Any]) -> str:
    """Outcomes as a workload x strategy grid (correct/error surfaced/silent corruption/stall, the expected
    corruption count, met or violated), then the size of each cell's exploration."""
    cells = {(c["workload"], c["strategy"]): c for c in doc["cells"]}
    workloads = list(dict.fromkeys(c["workload"] for c in doc["cells"]))
    strategies = list(dict.fromkeys(c["strategy"] for c in doc["cells"]))
    grid = []
    for w in workloads:
        row: list[Any] = [f"`{w}`"]
        for st in strategies:
            c = cells.get((w, st))
            if c is None:
                row.append("")
                continue
            o = c["outcomes"]
            expect = _MARK[c["expect"]["silent_corruption"]] + (" no stall" if c["expect"]["stall"] == "none" else "")
            corrupt = f"**{o['silent_corruption']}**" if o["silent_corruption"] else "0"
            row.append(f"{o['correct']}/{o['error_surfaced']}/{corrupt}/{o['stall']} "
                       f"({expect.strip() or 'unchecked'}) {'✔' if c['met'] else '✘ VIOLATED'}")
        grid.append(row)
    out = table(["workload", *(f"`{st}`" for st in strategies)], grid)
    out += ("\nEach cell: correct / error surfaced / **silent corruption** / stall runs; in brackets what "
            "`config/fault_expectations.yaml` demands (`=0`: no silent corruption, `>0`: at least one, "
            "`no stall`), then ✔ met or ✘ violated.\n\n")
    bad = [c for c in doc["cells"] if not c["met"]]
    for c in bad:
        out += f"- ✘ `{c['workload']}` x `{c['strategy']}`: " + "; ".join(c["problems"]) + "\n"
    sizes = [[f"`{c['workload']}`", f"`{c['strategy']}`", c["points"]["messages"], c["points"]["responses"],
              c["runs"], c["distinct_end_states"]] for c in doc["cells"]]
    return out + "\n" + table(["workload", "strategy", "census messages", "census responses", "runs",
                                "distinct end states"], sizes)


def _violations(doc: dict[str, Any]) -> str:
    if not doc["violations"] and not doc.get("diverged"):
        return "No run violated its cell's expectation, and every replay reached its fault's point.\n\n"
    out = ""
    for v in doc["violations"]:
        out += (f"- `{v['workload']}` x `{v['strategy']}`, {v['placement']} ({v['point']}): **{v['outcome']}**, "
                f"{v['reason']}\n" + code(v["yaml"], "yaml"))
    for d in doc.get("diverged", []):
        out += f"- diverged (its point never came): `{d['workload']}` x `{d['strategy']}` {d['placement']}\n"
    return out


def _witnesses(doc: dict[str, Any], strategy: str = "shift") -> str:
    """One schedule per outcome class of the SHIFT cells (a reader can replay any class)."""
    out = ""
    for cell, by_outcome in doc["witnesses"].items():
        if not cell.endswith(f"/{strategy}"):
            continue
        for outcome, w in by_outcome.items():
            if outcome == "correct":
                continue
            out += f"- `{cell}` **{outcome}**: {w['placement']} ({w['point']}); {w['reason'] or 'no reason'}\n"
            out += code(w["yaml"], "yaml")
    return out or "Every explored SHIFT run was correct.\n\n"


def _coverage(docs: dict[str, dict[str, Any]]) -> str:
    modes = list(docs)
    base = docs[modes[0]]["coverage"]
    rows = []
    for i, r in enumerate(base):
        counts = [docs[m]["coverage"][i]["runs"] for m in modes]
        first = next((docs[m]["coverage"][i]["witness"] for m in modes if docs[m]["coverage"][i]["witness"]), "")
        why = "" if any(counts) else next(docs[m]["coverage"][i]["why_unreached"] for m in modes)
        rows.append([r["queue"], code_wbr(r["state"]), code_wbr(r["event"]), code_wbr(r["next"]), *counts,
                     code_wbr(first) if first else f"*not reached: {why}*"])  # identifiers wrap: the column fits
    reached = sum(1 for row in rows if any(row[4:4 + len(modes)]))
    return (table(["queue", "state", "event", "next", *(f"runs ({m})" for m in modes),
                   "first run taking it / why not reached"], rows, raw=True)
            + f"\n{reached} of {len(rows)} (state, event) pairs of `shift_core/shift/machine.py` reached.\n\n")


def render(r: Renderer) -> None:
    """Emit ``_generated/explore.md`` (every mode the run produced; a missing one says so)."""
    docs: dict[str, dict[str, Any]] = {}
    out = ""
    for mode, title in MODES.items():
        rel = f"sim/explore/{mode}.json"
        doc = r.data.json(rel)
        out += f"## {title}\n\n"
        if not isinstance(doc, dict) or "cells" not in doc:
            why = "not generated in this run" if mode == "single" else \
                "not generated in this run (the pair exploration runs in the full profile)"
            out += not_generated(r.data.display(rel), why)
            continue
        docs[mode] = doc
        out += _summary(doc) + _cells(doc)
        out += f"\n### Violations ({mode})\n\n" + _violations(doc)
        out += f"\n### A replayable run per outcome class of SHIFT ({mode})\n\n" + _witnesses(doc)
    out += "## Coverage of the failover machine\n\n"
    if docs:
        out += _coverage(docs)
    else:
        out += not_generated(r.data.display("sim/explore/single.json"))
    if docs and not all(d["met"] for d in docs.values()):
        out = admonition("warning", "An expectation of `config/fault_expectations.yaml` is violated in this run: "
                         "the cell tables below say which and why.") + out
    r.emit("explore.md", out)
