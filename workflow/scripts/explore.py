"""Run `shift explore` (single faults or pairs) into data/sim/explore/ (snakemake script; the check is its own rule)."""

from pathlib import Path

from shift_core.bench.stage import python_module, run_logged

smk = snakemake  # type: ignore[name-defined]  # noqa: F821
out = Path(smk.output.json)
cmd = python_module("shift_core.cli.main", "explore", "--mode", smk.wildcards.mode, "--steps", str(smk.params.steps),
                    "--processes", str(smk.threads), "--expectations", str(smk.input.expectations),
                    "--out", str(out.parent), "--no-check")
rc = run_logged(cmd, smk.log[0])
if rc or not out.exists():
    raise SystemExit(f"shift explore exited {rc} without writing {out}; see {smk.log[0]}")
