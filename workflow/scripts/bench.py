"""Run one sim benchmark of shift_core.bench and write data/sim/<name>.{csv,json} (snakemake script)."""

import importlib
import time

from shift_core.bench.record import BenchUnavailable, write_result
from shift_core.bench.stage import log_line, write_skipped

smk = snakemake  # type: ignore[name-defined]  # noqa: F821
name, settings = smk.wildcards.bench, smk.params.settings
t0 = time.monotonic()
try:
    result = importlib.import_module(f"shift_core.bench.{name}").run(settings)
except ModuleNotFoundError as exc:
    if not (exc.name or "").startswith("shift_core"):
        raise
    write_skipped([smk.output.csv, smk.output.json], "sim", f"{exc.name} is not built yet", settings)
    log_line(smk.log[0], f"skipped: {exc.name} is not built yet")
except BenchUnavailable as exc:
    write_skipped([smk.output.csv, smk.output.json], "sim", str(exc), settings)
    log_line(smk.log[0], f"skipped: {exc}")
else:
    write_result(result, smk.output.csv, smk.output.json, settings, wall_seconds=time.monotonic() - t0)
    log_line(smk.log[0], f"{name}: {len(result.frame)} rows; summary {dict(result.summary)}")
