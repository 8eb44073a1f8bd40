"""Record that a stage did not run and why (snakemake script)."""

from shift_core.bench.stage import log_line, write_skipped

smk = snakemake  # type: ignore[name-defined]  # noqa: F821
write_skipped(smk.output, backend=smk.output[0].split("/")[1], reason=smk.params.reason, config=smk.config)
log_line(smk.log[0], f"skipped: {smk.params.reason}")
