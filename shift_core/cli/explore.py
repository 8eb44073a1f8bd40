"""``shift explore``: the systematic fault exploration of the real SHIFT code on ``sim`` (:mod:`shift_core.explore`).

``shift explore [--mode single|pairs] [--steps N] [--workload W ...] [--strategy S ...] [--processes P]
[--out DIR] [--expectations FILE] [--no-check]`` runs the fault-free census of every (workload, strategy) cell,
then one run per placement of one fault (``single``) or of a pair of faults (``pairs``), prints the outcome table
per cell with its expectation, the machine's (state, event) coverage and every violation with the schedule that
replays it (``shift fabric run --schedule FILE``), and writes ``<out>/<mode>.json``, ``.csv`` and
``_coverage.csv``. Exit status 1 when a cell violates its expectation (``config/fault_expectations.yaml``) or a
replay diverged from its census; ``--no-check`` reports without failing (the pipeline checks in its own rule).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from shift_core.errors import ShiftUserError
from shift_core.explore.controls import CONTROL_STRATEGIES
from shift_core.explore.search import MODES
from shift_core.vocabulary import OUTCOMES, STRATEGIES, WORKLOADS

DEFAULT_OUT = Path("data/sim/explore")
#: the default bound (workload steps) of each mode
DEFAULT_STEPS = {"single": 8, "pairs": 2}
_STYLE = {"correct": "green", "error_surfaced": "yellow", "silent_corruption": "bold red", "stall": "magenta"}


def cell_table(report: dict[str, Any]) -> Any:
    from rich.table import Table

    table = Table(title=f"Explored runs per cell ({report['mode']} faults; expectations: "
                        "config/fault_expectations.yaml)")
    for col in ("workload", "strategy", "points m/r", "runs", "end states", *OUTCOMES, "expect", "verdict"):
        table.add_column(col, justify="left" if col in ("workload", "strategy", "expect", "verdict") else "right",
                         style=_STYLE.get(col))
    for c in report["cells"]:
        e = c["expect"]
        table.add_row(c["workload"], c["strategy"], f"{c['points']['messages']}/{c['points']['responses']}",
                      str(c["runs"]), str(c["distinct_end_states"]), *(str(c["outcomes"][o]) for o in OUTCOMES),
                      f"corruption {e['silent_corruption']}, stall {e['stall']}",
                      "[green]met[/]" if c["met"] else "[bold red]VIOLATED[/]")
    return table


def coverage_table(rows: list[dict[str, Any]]) -> Any:
    from rich.table import Table

    table = Table(title="Failover machine coverage: every (state, event) pair of shift_core/shift/machine.py")
    for col in ("queue", "state", "event", "next", "runs", "first run taking it / why not reached"):
        table.add_column(col, justify="right" if col == "runs" else "left")
    for r in rows:
        table.add_row(r["queue"], r["state"], r["event"], r["next"], str(r["runs"]),
                      r["witness"] or f"[magenta]{r['why_unreached']}[/]")
    return table


def register(group: click.Group) -> None:
    @group.command("explore")
    @click.option("--mode", type=click.Choice(MODES), default="single", show_default=True,
                  help="One fault per run at every point, or every pair (second fault in the first one's run).")
    @click.option("--steps", type=int, default=None,
                  help="Workload steps per run (the bound; default "
                       + ", ".join(f"{v} for {k}" for k, v in DEFAULT_STEPS.items()) + ").")
    @click.option("--workload", "workloads", multiple=True, type=click.Choice(WORKLOADS),
                  help="Workload(s) (repeatable; default all).")
    @click.option("--strategy", "strategies", multiple=True, type=click.Choice((*STRATEGIES, *CONTROL_STRATEGIES)),
                  help="Strategy(ies), including the broken control variants (repeatable; default the five).")
    @click.option("--dup-write", type=click.Choice(("reexecute", "ack_only")), default="reexecute",
                  show_default=True, help="Responder behaviour on a duplicate RDMA WRITE (rxe: ack_only).")
    @click.option("--processes", type=int, default=2, show_default=True, help="Worker processes.")
    @click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_OUT,
                  show_default=True, help="Output directory (<mode>.json, <mode>.csv, <mode>_coverage.csv).")
    @click.option("--expectations", "expectations_path", type=click.Path(dir_okay=False, path_type=Path),
                  default=None, help="Expected outcome per cell (default config/fault_expectations.yaml).")
    @click.option("--show", type=int, default=3, show_default=True,
                  help="Violations printed with their schedule (all are in the JSON, up to 20 per cell).")
    @click.option("--check/--no-check", default=True, show_default=True,
                  help="Exit 1 when a cell violates its expectation.")
    def explore(mode: str, steps: int | None, workloads: tuple[str, ...], strategies: tuple[str, ...],
                dup_write: str, processes: int, out: Path, expectations_path: Path | None, show: int,
                check: bool) -> int:
        """Explore every fault placement on the real SHIFT code over the sim fabric, judged by the model."""
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        from shift_core.explore.expectations import DEFAULT_PATH, load_expectations
        from shift_core.explore.report import write_report
        from shift_core.explore.search import ExploreConfig
        from shift_core.explore.search import explore as run_explore

        n = steps if steps is not None else DEFAULT_STEPS[mode]
        if processes < 1 or n < 1:
            raise ShiftUserError("--processes and --steps must be at least 1")
        expectations = load_expectations(expectations_path or DEFAULT_PATH)
        cfg = ExploreConfig(mode=mode, workloads=workloads or WORKLOADS, strategies=strategies or STRATEGIES,
                            knobs={"n": n, "dup_write": dup_write}, processes=processes)
        console = Console(width=max(Console().width, 150))
        with Progress(TextColumn(f"[bold]explore ({mode})"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      TextColumn("{task.fields[tally]}"), console=console) as bar:
            task = bar.add_task("placements", total=None, tally="census runs")

            def progress(done: int, total: int, tally: dict[str, int]) -> None:
                bar.update(task, completed=done, total=total,
                           tally=" ".join(f"{k}={v}" for k, v in tally.items()))

            report = run_explore(cfg, expectations, progress)
        console.print(cell_table(report))
        console.print(coverage_table(report["coverage"]))
        console.print(f"{report['runs']:,} runs explored ({report['census_runs']} fault-free census, "
                      f"{report['first_fault_runs']:,} first-fault census, {report['placements']:,} placements), "
                      f"{report['distinct_end_states']:,} distinct end states, "
                      + ", ".join(f"{o} {report['outcomes'][o]:,}" for o in OUTCOMES)
                      + f" in {report['wall_seconds']:.1f} s wall on {processes} process(es)")
        for v in report["violations"][:show]:
            console.print(f"[bold red]violation[/] {v['workload']}/{v['strategy']} {v['placement']} "
                          f"({v['point']}): {v['outcome']}: {v['reason']}\nreplay with "
                          f"`shift fabric run --schedule FILE`, FILE =\n{v['yaml']}", highlight=False)
        for d in report["diverged"][:show]:
            console.print(f"[bold red]diverged[/] (a placement's point never came): {d['workload']}/{d['strategy']} "
                          f"{d['placement']}\n{d['yaml']}", highlight=False)
        paths = write_report(report, out)
        console.print("wrote " + ", ".join(str(p) for p in paths))
        bad = [c for c in report["cells"] if not c["met"]]
        for c in bad:
            console.print(f"[bold red]expectation violated[/] {c['workload']}/{c['strategy']}: "
                          + "; ".join(c["problems"]), highlight=False)
        return 1 if check and not report["met"] else 0
