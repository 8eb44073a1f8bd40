"""Run the protocol boundary check (`python -m shift_core.boundary --out data/boundary`) (snakemake script)."""

from pathlib import Path

from shift_core.bench.stage import log_line, module_available, python_module, run_logged, write_skipped
from shift_core.results import manifest, write_json_atomic

smk = snakemake  # type: ignore[name-defined]  # noqa: F821
outdir = Path(smk.output.boundary).parent
missing = module_available("shift_core.boundary")
if missing:
    write_skipped(list(smk.output), "model", missing, smk.config)
    log_line(smk.log[0], f"skipped: {missing}")
else:
    rc = run_logged(python_module("shift_core.boundary", "--out", str(outdir)), smk.log[0])
    absent = [p for p in (smk.output.boundary, smk.output.cts) if not Path(p).exists()]
    if absent:
        raise SystemExit(f"boundary check exited {rc} without writing {absent}; see {smk.log[0]}")
    if not Path(smk.output.manifest).exists():
        write_json_atomic(smk.output.manifest, manifest("model", smk.config, extra={"stage": "boundary"}))
