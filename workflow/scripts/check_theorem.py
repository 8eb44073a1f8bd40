"""Run one theorem check (`python -m shift_core.theorems <id> --out data/theorems`) (snakemake script)."""

from pathlib import Path

from shift_core.bench.stage import log_line, module_available, python_module, run_logged, write_skipped

smk = snakemake  # type: ignore[name-defined]  # noqa: F821
check, out = smk.wildcards.check, Path(smk.output[0])
missing = module_available("shift_core.theorems")
if missing:
    write_skipped([out], "model", missing, smk.config)
    log_line(smk.log[0], f"skipped: {missing}")
else:
    rc = run_logged(python_module("shift_core.theorems", check, "--out", str(out.parent)), smk.log[0])
    if not out.exists():
        raise SystemExit(f"check {check} exited {rc} without writing {out}; see {smk.log[0]}")
