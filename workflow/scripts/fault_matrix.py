"""Run the fault matrix (`shift faults`, the SHIFT issue's runner) into data/sim/faults/ (snakemake script)."""

from pathlib import Path

from shift_core.bench.stage import log_line, module_available, python_module, run_logged, write_skipped

smk = snakemake  # type: ignore[name-defined]  # noqa: F821
out = Path(smk.output.json)
missing = module_available("shift_core.cli.faults")
if missing:
    write_skipped([out, smk.output.csv], "sim", missing, smk.config)
    log_line(smk.log[0], f"skipped: {missing}")
else:
    cmd = python_module("shift_core.cli.main", "faults", "--runs", str(smk.params.runs), "--seed",
                        str(smk.params.seed), "--out", str(out.parent))
    rc = run_logged(cmd, smk.log[0])
    if rc or not out.exists():
        raise SystemExit(f"fault matrix exited {rc} without writing {out}; see {smk.log[0]}")
