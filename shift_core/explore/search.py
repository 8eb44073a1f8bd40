"""The enumeration: a census per cell, then one run per single-fault placement, or per pair of faults.

Honest enumeration, no partial-order reduction: every placement of :mod:`.placements` is run, one run each, on
a fresh fabric (the run is a pure function of its schedule, so "run" = "explored state": two placements that end
the same way are counted once among the *distinct end states*). Runs are spread over worker processes; the
result is sorted back into enumeration order, so the report (first witness of each outcome, of each machine
step) does not depend on the scheduling of the pool.

Pairs start from every failover-making first fault (:data:`.placements.FAILOVER_KINDS`) of the single-fault
enumeration at the pairs' bound; the first fault's own run is the census of its second faults. A pair whose first
fault alone already gives the same outcome is not a *minimal* witness of it; the report keeps the first fault.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from shift_core.explore.controls import resolve_strategy
from shift_core.explore.coverage import Key, coverage_rows, outside_table
from shift_core.explore.expectations import Expectations
from shift_core.explore.placements import FAILOVER_KINDS, Placement, first_faults, second_faults
from shift_core.explore.runner import RunOutcome, execute
from shift_core.explore.schedule import ReplaySchedule, RunSpec
from shift_core.fabric.faults import validation_error
from shift_core.vocabulary import OUTCOMES, STRATEGIES, WORKLOADS

MODES = ("single", "pairs")
#: violations kept per cell with their schedules (the rest are counted)
MAX_VIOLATIONS_PER_CELL = 20


@dataclass(frozen=True, slots=True)
class ExploreConfig:
    """One exploration: which cells, which mode, and the run knobs (:class:`~.schedule.RunSpec` fields)."""

    mode: str = "single"
    workloads: tuple[str, ...] = WORKLOADS
    strategies: tuple[str, ...] = STRATEGIES
    knobs: dict[str, Any] = field(default_factory=dict)  #: RunSpec fields other than workload/strategy (n, ...)
    processes: int = 2

    def spec(self, workload: str, strategy: str) -> RunSpec:
        """The run of one cell.

        :raises ShiftUserError: for a knob out of range (one line naming it).
        """
        try:
            return RunSpec(workload=workload, strategy=strategy, **self.knobs)
        except ValidationError as exc:
            raise validation_error("explore", exc) from None

    def to_json(self) -> dict[str, Any]:
        spec = self.spec(self.workloads[0], self.strategies[0]).model_dump()
        return {"mode": self.mode, "workloads": list(self.workloads), "strategies": list(self.strategies),
                "run": {k: v for k, v in spec.items() if k not in ("workload", "strategy")},
                "processes": self.processes}


def _schedule(spec: RunSpec, *placements: Placement) -> ReplaySchedule:
    return ReplaySchedule.model_validate({"run": spec.model_dump(),
                                          "faults": [f for p in placements for f in p.faults]})


def _diverged(o: RunOutcome, *placements: Placement) -> bool:
    """A placement whose own point never came: the run did not repeat the census it was taken from."""
    return any(_canon(p.point.when) in map(_canon, o.unfired) for p in placements)


def _canon(when: dict[str, Any]) -> str:
    t = when.get("transition")
    if t is not None:
        when = {"transition": {"queue": "sq", "nth": 1, **t}}
    return json.dumps(when, sort_keys=True)


def _row(mode: str, cell: int, order: int, spec: RunSpec, placements: tuple[Placement, ...], o: RunOutcome,
         first_outcome: str = "") -> dict[str, Any]:
    placement = " + ".join(p.name for p in placements)
    point = " + ".join(p.point.label for p in placements)
    return {
        "mode": mode, "cell": cell, "order": order, "workload": spec.workload, "strategy": spec.strategy,
        "placement": placement, "point": point, "outcome": o.outcome, "first_outcome": first_outcome,
        "end_state": o.end_state, "reason": o.verdict.reasons[0] if o.verdict.reasons else "",
        "transitions": len(o.steps), "diverged": _diverged(o, *placements), "wall_ms": o.wall_ms,
        "faults": json.dumps(o.schedule.to_json()["faults"], separators=(",", ":")),
        "_steps": sorted({(q, s, e) for _h, q, s, e, _t in o.steps}),
    }


# -- worker tasks (module level: they run in a pool) ------------------------------------------------------------
def _census(task: tuple[int, RunSpec]) -> tuple[int, RunOutcome]:
    cell, spec = task
    return cell, execute(ReplaySchedule(run=spec), census=True)


def _single(task: tuple[int, int, RunSpec, Placement]) -> list[dict[str, Any]]:
    cell, order, spec, p = task
    return [_row("single", cell, order, spec, (p,), execute(_schedule(spec, p)))]


def _pairs(task: tuple[int, int, RunSpec, Placement]) -> list[dict[str, Any]]:
    cell, order, spec, first = task
    base = execute(_schedule(spec, first), census=True)
    rows = []
    for k, second in enumerate(second_faults(base, first)):
        o = execute(_schedule(spec, first, second))
        rows.append(_row("pairs", cell, order * 100_000 + k, spec, (first, second), o, base.outcome))
    return rows


def _pool_map(fn: Callable[[Any], Any], tasks: list[Any], processes: int) -> Iterator[Any]:
    if processes <= 1 or len(tasks) <= 1:
        yield from map(fn, tasks)
        return
    with mp.get_context("fork").Pool(processes) as pool:
        yield from pool.imap_unordered(fn, tasks, chunksize=max(1, min(16, len(tasks) // (8 * processes))))


# -- the exploration --------------------------------------------------------------------------------------------
def explore(cfg: ExploreConfig, expectations: Expectations,
            progress: Callable[[int, int, dict[str, int]], None] | None = None) -> dict[str, Any]:
    """Run the exploration ``cfg`` and judge every cell against ``expectations``.

    :param progress: called as ``progress(done, total, tally)`` after each task (tally: outcome counts).
    :returns: the report (see :func:`summarize`), with every run's row under ``"rows"``.
    """
    t0 = time.perf_counter()
    cells = [(w, s) for w in cfg.workloads for s in cfg.strategies]
    specs = [cfg.spec(w, s) for w, s in cells]
    censuses: dict[int, RunOutcome] = dict(_pool_map(_census, list(enumerate(specs)), cfg.processes))
    tasks: list[tuple[int, int, RunSpec, Placement]] = []
    for i, spec in enumerate(specs):
        firsts = first_faults(censuses[i], resolve_strategy(spec.strategy).switch_back)
        if cfg.mode == "pairs":
            firsts = [p for p in firsts if p.kind.split("@")[0] in FAILOVER_KINDS]
        tasks += [(i, k, spec, p) for k, p in enumerate(firsts)]
    worker = _pairs if cfg.mode == "pairs" else _single
    rows: list[dict[str, Any]] = []
    tally: dict[str, int] = dict.fromkeys(OUTCOMES, 0)
    for done, batch in enumerate(_pool_map(worker, tasks, cfg.processes), 1):
        rows += batch
        for r in batch:
            tally[r["outcome"]] += 1
        if progress is not None:
            progress(done, len(tasks), tally)
    rows.sort(key=lambda r: (r["cell"], r["order"]))
    report = summarize(cfg, cells, censuses, rows, expectations, first_runs=len(tasks) if cfg.mode == "pairs" else 0)
    report["wall_seconds"] = round(time.perf_counter() - t0, 2)
    report["rows"] = rows
    return report


def _is_violation(row: dict[str, Any], exp: Any) -> bool:
    o = row["outcome"]
    return ((o == "silent_corruption" and exp.silent_corruption == "none") or (o == "stall" and exp.stall == "none"))


def summarize(cfg: ExploreConfig, cells: list[tuple[str, str]], censuses: dict[int, RunOutcome],
              rows: list[dict[str, Any]], expectations: Expectations, first_runs: int = 0) -> dict[str, Any]:
    """Per-cell outcome counts, distinct end states, expectation verdicts, violations with their schedules, one
    witness schedule per outcome class, and the machine's coverage table."""
    by_cell: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_cell[r["cell"]].append(r)
    steps: Counter[Key] = Counter()
    witness: dict[Key, str] = {}
    out_cells, violations, witnesses = [], [], {}
    total_states = 0
    for i, (w, s) in enumerate(cells):
        census = censuses[i]
        crows = by_cell.get(i, [])
        for key in sorted({(q, a, e) for _h, q, a, e, _t in census.steps}):
            steps[key] += 1
            witness.setdefault(key, f"{w}/{s}: fault-free")
        for r in crows:
            for key in map(tuple, r["_steps"]):
                steps[key] += 1
                witness.setdefault(key, f"{w}/{s}: {r['placement']}")
        outcomes = Counter(r["outcome"] for r in crows)
        states = {r["end_state"] for r in crows} | {census.end_state}
        total_states += len(states)
        exp = expectations.cell(w, s)
        problems = exp.problems(dict(outcomes), census.outcome)
        cell_violations = [r for r in crows if _is_violation(r, exp)]
        minimal = [r for r in cell_violations if r["mode"] != "pairs" or r["first_outcome"] != r["outcome"]]
        for r in minimal[:MAX_VIOLATIONS_PER_CELL]:
            violations.append(_witness(r, cfg))
        witnesses[f"{w}/{s}"] = {o: _witness(next(r for r in crows if r["outcome"] == o), cfg)
                                 for o in OUTCOMES if outcomes.get(o)}
        out_cells.append({
            "workload": w, "strategy": s, "census_outcome": census.outcome,
            "points": {"messages": len(census.messages), "responses": len(census.responses),
                       "states": len(census.entries)},
            "runs": len(crows), "distinct_end_states": len(states),
            "outcomes": {o: outcomes.get(o, 0) for o in OUTCOMES},
            "expect": {"silent_corruption": exp.silent_corruption, "stall": exp.stall,
                       "corruption_source": exp.corruption_source, "stall_source": exp.stall_source},
            "violations": len(cell_violations), "minimal_violations": len(minimal),
            "met": not problems, "problems": problems,
        })
    diverged = [_witness(r, cfg) for r in rows if r["diverged"]]
    all_out = Counter(r["outcome"] for r in rows)
    return {
        "mode": cfg.mode, "config": cfg.to_json(),
        "runs": len(rows) + len(cells) + first_runs, "placements": len(rows), "census_runs": len(cells),
        "first_fault_runs": first_runs, "distinct_end_states": total_states,
        "outcomes": {o: all_out.get(o, 0) for o in OUTCOMES},
        "cells": out_cells, "met": all(c["met"] for c in out_cells) and not diverged,
        "violations": violations, "witnesses": witnesses, "diverged": diverged,
        "coverage": coverage_rows(steps, witness), "outside_table": [list(k) for k in outside_table(steps)],
    }


def _witness(r: dict[str, Any], cfg: ExploreConfig) -> dict[str, Any]:
    spec = cfg.spec(r["workload"], r["strategy"])
    sched = ReplaySchedule.model_validate({"run": spec.model_dump(), "faults": json.loads(r["faults"])})
    return {"workload": r["workload"], "strategy": r["strategy"], "placement": r["placement"], "point": r["point"],
            "outcome": r["outcome"], "reason": r["reason"], "schedule": sched.to_json(), "yaml": sched.to_yaml()}
