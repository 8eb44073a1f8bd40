"""``shift check [all|core_laws|thm1|thm2|thm3|<id>|boundary] [--bound N] [--mode rocq|causal] [--out DIR] [--show]``.

Runs the bounded theorem checks (:mod:`shift_core.theorems`) -- or the protocol boundary
(``shift_core.boundary.run``, imported lazily) -- with rich progress, writes their JSON records atomically
(``data/theorems/<id>.json`` + ``manifest.json`` + ``rocq_xref.json``; ``data/boundary/`` for the boundary),
prints one summary row per result (Rocq name, bound, states, verdict, counterexample length) and exits 1 when
any expectation or positive control fails.
"""

from __future__ import annotations

import importlib
import inspect
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from shift_core.errors import ShiftUserError
from shift_core.model.check import CheckResult
from shift_core.theorems.registry import ALIASES, BOUND_MEANING, resolve
from shift_core.theorems.runner import DEFAULT_OUT, run_and_write, validate
from shift_core.vocabulary import THEOREM_CHECKS

TARGETS: tuple[str, ...] = (*ALIASES, *THEOREM_CHECKS, "boundary")
BOUNDARY_OUT = Path("data/boundary")


def _bound_text(bound: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in bound.items()) or "-"


def _status(r: CheckResult) -> str:
    if r.passed:
        return "[green]pass[/]"
    return "[yellow]differs[/]" if r.disagrees_with_paper else "[bold red]FAIL[/]"


def summary_table(results: list[CheckResult], title: str) -> Any:
    """A rich table with one row per result."""
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    for col, kw in (("check", {"no_wrap": True}), ("Rocq name", {"max_width": 44, "overflow": "fold"}),
                    ("bound", {"max_width": 30, "overflow": "fold"}), ("states", {"justify": "right"}),
                    ("verdict", {"no_wrap": True}), ("cex", {"justify": "right"}), ("ctl", {}), ("ok", {}),
                    ("s", {"justify": "right"})):
        table.add_column(col, **kw)
    for r in results:
        controls = f"{sum(c.passed for c in r.controls)}/{len(r.controls)}" if r.controls else "-"
        if r.disagrees_with_paper:
            verdict = f"[yellow]{r.verdict} (paper: {r.expected}) DIFFERS[/]"
        else:
            verdict = r.verdict if r.verdict == r.expected else f"{r.verdict} (expected {r.expected})"
        table.add_row(f"{r.check_id} [{r.kind}]", r.rocq_name or "(not in Rocq)", _bound_text(r.bound),
                      f"{r.states:,}", verdict, str(r.counterexample_length), controls,
                      _status(r), f"{r.seconds:.2f}")
    return table


def _boundary_run() -> tuple[Callable[..., list[CheckResult]], Callable[..., Any] | None]:
    """``shift_core.boundary.run`` (and ``write_results`` if present), or a one-line 'not built yet' error."""
    try:
        module = importlib.import_module("shift_core.boundary")
    except ModuleNotFoundError as exc:
        raise ShiftUserError("the protocol boundary check is not built yet (no shift_core.boundary)") from exc
    fn = getattr(module, "run", None)
    if inspect.ismodule(fn):
        fn = getattr(fn, "run", None)
    if not callable(fn):
        raise ShiftUserError("the protocol boundary check is not built yet (shift_core.boundary.run is missing)")
    writer = getattr(module, "write_results", None)
    return fn, writer if callable(writer) else None


def run_boundary(bound: int | None, out: Path | None) -> list[CheckResult]:
    """Run the boundary checks with a spinner and write their results if the module can."""
    from rich.console import Console

    fn, writer = _boundary_run()
    console = Console()
    with console.status("boundary: searching protocols...") as status:
        kwargs: dict[str, Any] = {"bound": bound}
        if "progress" in inspect.signature(fn).parameters:
            kwargs["progress"] = lambda cid: status.update(f"boundary: {cid}")
        results = fn(**kwargs)
    if writer is not None:
        writer(results, out or BOUNDARY_OUT)
    return results


def run_theorems(names: tuple[str, ...], bound: int | None, mode: str | None, out: Path) -> list[CheckResult]:
    """Run the theorem checks one by one with a progress bar; results are written as each finishes."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    collected: list[CheckResult] = []
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn()) as progress:
        task = progress.add_task("theorem checks", total=len(names))

        def on_result(cid: str, results: list[CheckResult], seconds: float) -> None:
            collected.extend(results)
            bad = sum(not r.passed for r in results)
            progress.console.print(f"  {cid}: {len(results)} results in {seconds:.2f} s"
                                   + (f", [bold red]{bad} failed[/]" if bad else ", all passed"))
            progress.advance(task)
            progress.update(task, description=f"theorem checks (done {cid})")

        run_and_write(names, out, bound, mode, on_result=on_result)
    return collected


def print_counterexamples(console: Any, results: list[CheckResult]) -> None:
    """Each result's shortest counterexample (or pair), numbered, in the model's vocabulary."""
    for r in results:
        if not (r.counterexample or r.counterexample_pair):
            continue
        console.print(f"[bold]{r.check_id}[/] ({r.rocq_name or 'not in Rocq'})")
        pair = r.counterexample_pair
        traces = pair if pair and all(pair) else (r.counterexample,)
        for name, trace in zip(("T1", "T2", "T3"), traces, strict=False):
            if len(traces) > 1:
                console.print(f"  {name}:")
            for i, step in enumerate(trace, 1):
                console.print(f"    {i:2d}. {step}", markup=False, highlight=False)


def register(group: click.Group) -> None:
    @group.command("check")
    @click.argument("target", default="all", metavar="[all|thm1|thm2|thm3|<check id>|boundary]")
    @click.option("--bound", type=int, default=None,
                  help="Search bound; its meaning per check: " + "; ".join(f"{k}: {v}" for k, v in
                                                                          BOUND_MEANING.items()))
    @click.option("--mode", type=str, default=None, help="Trace universe of Thm 1: rocq or causal (default both).")
    @click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help=f"Output directory (default {DEFAULT_OUT} for theorems, {BOUNDARY_OUT} for boundary).")
    @click.option("--show", is_flag=True, help="Also print every shortest counterexample, step by step.")
    def check(target: str, bound: int | None, mode: str | None, out: Path | None, show: bool) -> int:
        """Run bounded checks of the paper's theorems (or the protocol boundary) and print a summary table."""
        from rich.console import Console

        if target not in TARGETS:
            raise ShiftUserError(f"unknown check {target!r}: choose one of {', '.join(TARGETS)}")
        validate(bound, mode)
        console = Console(width=None if Console().is_terminal else 200)
        start = time.perf_counter()
        results: list[CheckResult] = []
        if target == "boundary":
            results = run_boundary(bound, out)
        else:
            results = run_theorems(resolve(target), bound, mode, out or DEFAULT_OUT)
            if target == "all":
                try:
                    results += run_boundary(bound, None if out is None else out.parent / "boundary")
                except ShiftUserError as exc:
                    console.print(f"[yellow]note:[/] boundary skipped: {exc}")
        if show:
            print_counterexamples(console, results)
        console.print(summary_table(results, f"shift check {target}"))
        failed = [r.check_id for r in results if not r.passed and not r.disagrees_with_paper]
        differs = [r.check_id for r in results if r.disagrees_with_paper]
        elapsed = time.perf_counter() - start
        if differs:
            console.print(f"[yellow]{len(differs)} verdicts differ from the paper (reported, not failures)[/]: "
                          f"{', '.join(differs)}")
        if failed:
            console.print(f"[bold red]{len(failed)} of {len(results)} checks failed[/]: {', '.join(failed)} "
                          f"({elapsed:.1f} s)")
            return 1
        if differs:
            console.print(f"[green]{len(results) - len(differs)} of {len(results)} checks passed[/], "
                          f"{len(differs)} differ from the paper, none failed ({elapsed:.1f} s)")
        else:
            console.print(f"[green]all {len(results)} checks passed[/] ({elapsed:.1f} s)")
        return 0
