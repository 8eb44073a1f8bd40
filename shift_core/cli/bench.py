"""``shift bench <name>``: run one benchmark of :mod:`shift_core.bench` outside the pipeline.

Same code, same configuration and same output files as the pipeline's ``bench`` rule
(``data/sim/<name>.csv`` + ``.json``), so a user can rerun one figure's data by hand; ``shift bench claims``
regenerates ``data/claims.csv`` from whatever is under ``data/``.
"""

from __future__ import annotations

import importlib
import time
from pathlib import Path

import click

from shift_core.bench.record import BENCHES
from shift_core.errors import ShiftUserError


def _print_summary(name: str, summary: dict[str, object]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{name}: summary")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in summary.items():
        table.add_row(key, f"{value:.6g}" if isinstance(value, float) else str(value))
    Console().print(table)


def register(group: click.Group) -> None:
    @group.command("bench")
    @click.argument("name", type=click.Choice([*BENCHES, "claims"]))
    @click.option("--config", "configs", multiple=True, type=click.Path(dir_okay=False),
                  help="YAML merged over config/config.yaml (repeatable; e.g. config/full.yaml).")
    @click.option("--out", type=click.Path(file_okay=False), default="data", show_default=True,
                  help="Data root; results go to <out>/sim/<name>.{csv,json} (claims: <out>/claims.csv).")
    def bench(name: str, configs: tuple[str, ...], out: str) -> None:
        """Run benchmark NAME on the sim fabric and write its CSV + JSON (or regenerate the claims table)."""
        from shift_core.bench.config import REPO, load_config
        from shift_core.results import write_text_atomic

        root = Path(out)
        if name == "claims":
            from shift_core.bench.claims import build_rows, to_csv

            rows = build_rows(REPO / "config" / "paper_values.yaml", root)
            write_text_atomic(root / "claims.csv", to_csv(rows))
            click.echo(f"wrote {root / 'claims.csv'} ({len(rows)} claims)")
            return
        from shift_core.bench.record import BenchUnavailable, write_result

        config = load_config(*configs)
        settings = {"seed": config["seed"], "fabric": config["fabric"], name: config[name]}
        t0 = time.monotonic()
        try:
            result = importlib.import_module(f"shift_core.bench.{name}").run(settings)
        except BenchUnavailable as exc:
            raise ShiftUserError(f"cannot run {name}: {exc}") from None
        write_result(result, root / "sim" / f"{name}.csv", root / "sim" / f"{name}.json", settings,
                     wall_seconds=time.monotonic() - t0)
        _print_summary(name, dict(result.summary))
        click.echo(f"wrote {root / 'sim' / name}.csv and .json in {time.monotonic() - t0:.1f} s")
