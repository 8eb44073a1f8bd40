"""The reviewers' tables, generated from one source: workflow/paper_items.yaml (+ measured run times).

``paper_items.py write`` rewrites the marked sections of README.md and book/ae.md (paper item -> Snakemake
target -> data/ files -> book page -> expected time, and the quick/full profile totals); ``paper_items.py
check`` fails when they drift from the sources (a test runs it). ``paper_items.py times`` measures the expected
times of one finished run: for each target it plans the target with ``snakemake -n --forceall`` in the run's
directory and sums the wall seconds Snakemake recorded for those jobs (``benchmark:`` files); ``--time-v``
adds the run's total wall time and peak memory from ``/usr/bin/time -v``. The result goes to
workflow/report/expected_times.json, so no number in the tables is typed by hand.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import yaml

ROOT = Path(__file__).resolve().parents[2]
ITEMS = ROOT / "workflow" / "paper_items.yaml"
TIMES = ROOT / "workflow" / "report" / "expected_times.json"
#: the files whose marked sections are generated, and the link style of each (MyST for the book)
TARGETS = {ROOT / "README.md": "github", ROOT / "book" / "ae.md": "myst"}
SECTIONS = ("paper-items", "profiles")
PROFILES = ("quick", "full")


def load_items() -> list[dict[str, Any]]:
    """The items of workflow/paper_items.yaml, in order."""
    return list(yaml.safe_load(ITEMS.read_text())["items"])


def load_times() -> dict[str, Any]:
    """The measured times per profile (``{}`` before any run was measured)."""
    return json.loads(TIMES.read_text()) if TIMES.exists() else {}


def _minutes(seconds: float | None) -> str:
    if seconds is None:
        return "not measured"
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min"


def _book(page: str, style: str) -> str:
    return f"{{doc}}`{page}`" if style == "myst" else f"book: `{page}`"


def _files(files: list[str], style: str) -> str:
    """The data files of an item: one per line on GitHub; in the book (a narrower column), grouped by directory
    so that no cell holds a path longer than one file name."""
    if style != "myst":
        return "<br>".join(f"`{f}`" for f in files)
    groups: dict[str, list[str]] = {}
    for f in files:
        folder, _, name = f.rpartition("/")
        groups.setdefault(folder, []).append(name)
    return "<br>".join(f"`{folder}/`: " + ", ".join(f"`{n}`" for n in names) for folder, names in groups.items())


def render_items(style: str) -> str:
    """The table paper item -> target -> data/ files -> book page -> expected time (quick, full); in the book the
    target and page share the item's cell, so the table fits the page's column."""
    times = load_times()
    if style == "myst":
        rows = ["| paper item → target → book page | `data/` files | quick | full |", "|---|---|---|---|"]
    else:
        rows = ["| paper item | Snakemake target | `data/` files | book | quick | full |", "|---|---|---|---|---|---|"]
    for it in load_items():
        files = _files(it["files"], style)
        quick, full = (times.get(p, {}).get("targets", {}).get(it["target"]) for p in PROFILES)
        if style == "myst":
            rows.append(f"| **{it['label']}**: {it['item']}<br>`{it['target']}` → {_book(it['book'], style)} | "
                        f"{files} | {_minutes(quick)} | {_minutes(full)} |")
        else:
            rows.append(f"| **{it['label']}**: {it['item']} | `{it['target']}` | {files} | "
                        f"{_book(it['book'], style)} | {_minutes(quick)} | {_minutes(full)} |")
    note = ("Run one with `snakemake --profile workflow/profiles/quick <target>` (or `.../full`); the Snakefile is "
            "found at `workflow/Snakefile`. Expected time = the sum of the wall times Snakemake measured for the jobs "
            "that target plans (`snakemake <target> -n --forceall`), from a complete run of that profile on the "
            "machine named in the profiles table: one job after another; on 2 cores independent jobs overlap.")
    return "\n".join(rows) + "\n\n" + note + "\n"


def render_profiles(style: str) -> str:
    """The quick and full profiles: what they run, measured wall time, cores and peak memory, the machine."""
    times = load_times()
    rows = ["| profile | command | wall time | CPU time | cores | peak memory (largest process) | measured on |",
            "|---|---|---|---|---|---|---|"]
    for name in PROFILES:
        t = times.get(name)
        if not t:
            rows.append(f"| {name} | `make reproduce PROFILE={name}` | not measured | | | | |")
            continue
        peak = f"{t['peak_rss_mb'] / 1024:.1f} GiB" if t.get("peak_rss_mb") else "not measured"
        rows.append(f"| **{name}** | `{t['command']}` | {_minutes(t.get('wall_seconds'))} | "
                    f"{_minutes(t.get('cpu_seconds'))} | {t['cores']} | {peak} | {t['machine']}, {t['date']} |")
    notes = [t["note"] for n in PROFILES if (t := times.get(n)) and t.get("note")]
    return "\n".join(rows) + "\n\n" + "".join(f"- {n}\n" for n in notes)


RENDER = {"paper-items": render_items, "profiles": render_profiles}


def _markers(section: str) -> tuple[str, str]:
    return (f"<!-- {section}: generated by workflow/scripts/paper_items.py from workflow/paper_items.yaml; "
            "do not edit -->", f"<!-- /{section} -->")


def regenerate(text: str, style: str) -> str:
    """``text`` with every marked section replaced by its freshly rendered table."""
    for section in SECTIONS:
        begin, end = _markers(section)
        pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
        if not pattern.search(text):
            continue
        fresh = f"{begin}\n{RENDER[section](style)}{end}"
        text = pattern.sub(lambda _m, fresh=fresh: fresh, text)
    return text


@click.group()
def main() -> None:
    """Generate and check the reviewers' tables (see the module docstring)."""


@main.command()
@click.option("--style", type=click.Choice(["github", "myst"]), default="github", show_default=True)
@click.argument("section", type=click.Choice(SECTIONS))
def render(style: str, section: str) -> None:
    """Print one table."""
    click.echo(RENDER[section](style), nl=False)


@main.command()
def check() -> None:
    """Exit 1 when README.md or book/ae.md holds a table that differs from its sources (or lacks one)."""
    stale = []
    for path, style in TARGETS.items():
        text = path.read_text()
        missing = [s for s in SECTIONS if _markers(s)[0] not in text]
        if missing or regenerate(text, style) != text:
            stale.append(f"{path.relative_to(ROOT)}" + (f" (no {', '.join(missing)} section)" if missing else ""))
    if stale:
        raise click.ClickException(f"stale generated tables in {', '.join(stale)}: run "
                                   "`python workflow/scripts/paper_items.py write`")
    click.echo("README.md and book/ae.md match workflow/paper_items.yaml")


@main.command()
def write() -> None:
    """Rewrite the marked sections of README.md and book/ae.md."""
    for path, style in TARGETS.items():
        path.write_text(regenerate(path.read_text(), style))
        click.echo(f"wrote {path.relative_to(ROOT)}")


def _planned_benchmarks(run_dir: Path, target: str, smk_args: tuple[str, ...]) -> list[str]:
    snakemake = Path(sys.executable).with_name("snakemake")
    proc = subprocess.run([str(snakemake), target, "--snakefile", "workflow/Snakefile", "-n", "--forceall",
                           "--nolock", *smk_args], cwd=run_dir, capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHONPATH": str(run_dir)})
    if proc.returncode:
        raise click.ClickException(f"cannot plan {target} in {run_dir}: {proc.stderr.strip().splitlines()[-1:]}")
    return re.findall(r"^\s+benchmark: (\S+)$", proc.stdout, re.M)


def _machine() -> str:
    """This machine in a few words: OS, architecture, CPUs and memory (no host name, no path)."""
    try:
        gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        gib = 0.0
    release = platform.freedesktop_os_release().get("PRETTY_NAME", platform.system()) \
        if hasattr(platform, "freedesktop_os_release") else platform.system()
    return f"{release}, {platform.machine()}, {os.cpu_count()} CPUs, {gib:.0f} GiB"


def _time_v(path: Path) -> dict[str, float]:
    """Wall seconds, CPU seconds and peak RSS (MiB) from ``/usr/bin/time -v`` output."""
    text = path.read_text()

    def field(name: str) -> str:
        m = re.search(rf"{re.escape(name)}: (.+)", text)
        if not m:
            raise click.ClickException(f"{path}: no '{name}' line (is it /usr/bin/time -v output?)")
        return m.group(1).strip()

    wall = 0.0
    for part in field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":"):
        wall = wall * 60 + float(part)
    cpu = float(field("User time (seconds)")) + float(field("System time (seconds)"))
    peak_kb = int(field("Maximum resident set size (kbytes)"))
    return {"wall_seconds": wall, "cpu_seconds": cpu, "peak_rss_mb": peak_kb / 1024}


@main.command()
@click.option("--run-dir", type=click.Path(file_okay=False, exists=True, path_type=Path), default=ROOT,
              show_default=True, help="Where the run happened (its logs/ hold the benchmark files).")
@click.option("--profile", type=click.Choice(PROFILES), required=True)
@click.option("--time-v", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="/usr/bin/time -v output of the whole run (total wall time, CPU time, peak memory).")
@click.option("--command", "command", default="", help="The command that was timed, as the table shows it.")
@click.option("--note", default="", help="One sentence on what the run included (e.g. rxe disabled).")
@click.option("--cores", type=int, default=2, show_default=True)
@click.argument("smk_args", nargs=-1)
def times(run_dir: Path, profile: str, time_v: Path | None, command: str, note: str, cores: int,
          smk_args: tuple[str, ...]) -> None:
    """Measure each target's expected time from a finished run (SMK_ARGS: the run's snakemake options)."""
    from shift_core.results import benchmark_seconds

    targets = {}
    missing: set[str] = set()
    for it in load_items():
        files = _planned_benchmarks(run_dir, it["target"], smk_args)
        absent = [f for f in files if not (run_dir / f).exists()]
        missing.update(absent)
        targets[it["target"]] = round(sum(benchmark_seconds(run_dir / f) for f in files), 1)
    entry: dict[str, Any] = {"targets": targets, "cores": cores, "command": command or f"make reproduce "
                             f"PROFILE={profile}", "machine": _machine(),
                             "date": dt.date.today().isoformat(), "note": note}
    if missing:
        entry["not_measured_jobs"] = sorted(missing)
    if time_v:
        entry.update({k: round(v, 1) for k, v in _time_v(time_v).items()})
    data = load_times()
    data[profile] = entry
    TIMES.write_text(json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    click.echo(f"wrote {TIMES.relative_to(ROOT)} [{profile}]: {targets}")


if __name__ == "__main__":
    main()
