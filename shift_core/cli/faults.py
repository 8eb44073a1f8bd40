"""``shift faults``: the fault matrix (:mod:`shift_core.bench.matrix`) with progress and an outcome table.

``shift faults [--runs N | --profile quick|default|full] [--workload W ...] [--strategy S ...] [--fault F ...]
[--seed S] [--processes P] [--out DIR] [--replay RUN]`` runs N seeded schedules on the ``sim`` fabric over P processes,
prints outcome counts per strategy x workload and per strategy x fault, the medians of detection latency and
failover downtime and each strategy's cost, and writes ``<out>/faults.csv`` (one row per run) and
``<out>/faults.json`` (summary, configuration, wall time and provenance) atomically.
"""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any

import click

from shift_core.bench.matrix import PROFILES, MatrixConfig, make_schedules, run_matrix, summarize
from shift_core.bench.matrix import replay as replay_schedule
from shift_core.errors import ShiftUserError
from shift_core.results import manifest, write_json_atomic, write_text_atomic
from shift_core.shift.strategy import STRATEGY_TABLE
from shift_core.vocabulary import FAULT_KINDS, OUTCOMES, STRATEGIES, WORKLOADS

DEFAULT_OUT = Path("data/sim")
_OUTCOME_STYLE = {"correct": "green", "error_surfaced": "yellow", "silent_corruption": "bold red", "stall": "magenta"}


def outcome_table(counts: dict[str, dict[str, int]], title: str, key: str) -> Any:
    """A rich table: one row per ``strategy/<key>``, one column per outcome."""
    from rich.table import Table

    table = Table(title=title)
    table.add_column("strategy")
    table.add_column("gives up")
    table.add_column(key)
    for o in OUTCOMES:
        table.add_column(o, justify="right", style=_OUTCOME_STYLE[o])
    for cell, c in counts.items():
        strategy, what = cell.split("/", 1)
        table.add_row(strategy, STRATEGY_TABLE[strategy].gives_up, what, *(str(c[o]) for o in OUTCOMES))
    return table


def cost_table(summary: dict[str, Any]) -> Any:
    from rich.table import Table

    table = Table(title="Detection, downtime and cost per strategy (medians over runs that failed over)")
    for col in ("strategy", "gives up", "detection (us)", "downtime (us)", "extra remote ops / WR",
                "copies / WR", "silent corruptions on supported traffic"):
        table.add_column(col, justify="right" if col != "strategy" else "left")
    for s, v in summary["mean_extra_ops_per_wr"].items():
        table.add_row(s, STRATEGY_TABLE[s].gives_up, str(summary["median_detection_us"].get(s)),
                      str(summary["median_downtime_us"].get(s)), str(v), str(summary["mean_copies_per_wr"][s]),
                      str(summary["silent_corruption_on_supported"][s]))
    return table


def _csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    for r in sorted(rows, key=lambda r: r["run"]):
        w.writerow(r)
    return buf.getvalue()


def _replay(console: Any, run: int, workloads: tuple[str, ...], strategies: tuple[str, ...],
            faults: tuple[str, ...], seed: int, cfg: MatrixConfig) -> None:
    """Print one schedule, its verdict with the evidence, and every layer transition of both hosts."""
    if run < 0:
        raise ShiftUserError(f"--replay needs a run index >= 0, got {run}")
    s = make_schedules(run + 1, workloads or WORKLOADS, strategies or STRATEGIES, faults or FAULT_KINDS,
                       seed=seed, n=cfg.n)[run]
    res, v = replay_schedule(s, cfg)
    console.print(f"schedule: {s}")
    console.print(f"outcome: [bold]{v.outcome}[/] detection_ns={v.detection_ns} downtime_ns={v.downtime_ns}")
    for r in v.reasons:
        console.print(f"  because: {r}")
    for host, rec in res.records.items():
        for t in rec.transitions:
            console.print(f"  {host} t={t.t_ns}ns qp={t.qpn} {t.queue}: {t.from_} --{t.event}--> {t.to}")
        for note in rec.notes:
            console.print(f"  {host} note: {note}")


def register(group: click.Group) -> None:
    @group.command("faults")
    @click.option("--runs", type=int, default=None, help="Number of schedules (default: the profile's size).")
    @click.option("--profile", type=click.Choice(tuple(PROFILES)), default="default", show_default=True,
                  help=f"Matrix size: {', '.join(f'{k}={v}' for k, v in PROFILES.items())} schedules.")
    @click.option("--workload", "workloads", multiple=True, type=click.Choice(WORKLOADS),
                  help="Workload(s) (repeatable; default all).")
    @click.option("--strategy", "strategies", multiple=True, type=click.Choice(STRATEGIES),
                  help="Strategy(ies) (repeatable; default all).")
    @click.option("--fault", "faults", multiple=True, type=click.Choice(FAULT_KINDS),
                  help="Fault kind(s) (repeatable; default all).")
    @click.option("--seed", type=int, default=0, show_default=True, help="Seed of the schedules.")
    @click.option("--processes", type=int, default=2, show_default=True, help="Worker processes.")
    @click.option("--steps", type=int, default=8, show_default=True, help="Workload steps per run.")
    @click.option("--dup-write", type=click.Choice(("reexecute", "ack_only")), default="reexecute",
                  show_default=True, help="Responder behaviour on a duplicate RDMA WRITE (rxe: ack_only).")
    @click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_OUT,
                  show_default=True, help="Output directory (faults.csv, faults.json).")
    @click.option("--replay", type=int, default=None,
                  help="Rerun the schedule of this run index (same --seed and filters) and explain its verdict.")
    def faults(runs: int | None, profile: str, workloads: tuple[str, ...], strategies: tuple[str, ...],
               faults: tuple[str, ...], seed: int, processes: int, steps: int, dup_write: str, out: Path,
               replay: int | None) -> None:
        """Run the fault matrix on the sim fabric and print the outcome table."""
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        if processes < 1 or steps < 1:
            raise ShiftUserError("--processes and --steps must be at least 1")
        n_runs = runs if runs is not None else PROFILES[profile]
        cfg = MatrixConfig(n=steps, dup_write=dup_write)
        console = Console(width=max(Console().width, 150))
        if replay is not None:
            _replay(console, replay, workloads, strategies, faults, seed, cfg)
            return
        schedules = make_schedules(n_runs, workloads or WORKLOADS, strategies or STRATEGIES, faults or FAULT_KINDS,
                                   seed=seed, n=steps)
        rows: list[dict[str, Any]] = []
        t0 = time.perf_counter()
        with Progress(TextColumn("[bold]fault matrix"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      TextColumn("{task.fields[tally]}"), console=console) as bar:
            task = bar.add_task("runs", total=len(schedules), tally="")
            tally = {o: 0 for o in OUTCOMES}
            for row in run_matrix(schedules, cfg, processes=processes):
                rows.append(row)
                tally[row["outcome"]] += 1
                bar.update(task, advance=1, tally=" ".join(f"{k}={v}" for k, v in tally.items()))
        wall = time.perf_counter() - t0
        summary = summarize(rows)
        console.print(outcome_table(summary["by_strategy_workload"], "Outcomes per strategy and workload",
                                    "workload"))
        console.print(outcome_table(summary["by_strategy_fault"], "Outcomes per strategy and fault", "fault"))
        console.print(cost_table(summary))
        console.print(f"{len(rows)} schedules in {wall:.1f} s wall ({len(rows) / wall:.1f} runs/s, "
                      f"{processes} processes)")
        config = {"runs": n_runs, "seed": seed, "workloads": list(workloads or WORKLOADS),
                  "strategies": list(strategies or STRATEGIES), "faults": list(faults or FAULT_KINDS),
                  "steps": steps, "timeout": cfg.timeout, "retry_cnt": cfg.retry_cnt, "dup_write": dup_write,
                  "detect_ns": cfg.detect_ns, "max_poll_ns": cfg.max_poll_ns, "deadline_ns": cfg.deadline_ns}
        write_text_atomic(out / "faults.csv", _csv(rows))
        write_json_atomic(out / "faults.json", {"summary": summary, "config": config, "wall_seconds": round(wall, 2),
                                                "manifest": manifest("sim", config)})
        console.print(f"wrote {out / 'faults.csv'} and {out / 'faults.json'}")
