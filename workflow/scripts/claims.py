"""Generate data/claims.csv from config/paper_values.yaml and data/ (snakemake script)."""

from collections import Counter
from pathlib import Path

from shift_core.bench.claims import build_rows, to_csv
from shift_core.bench.stage import log_line
from shift_core.results import write_text_atomic

smk = snakemake  # type: ignore[name-defined]  # noqa: F821
rows = build_rows(Path(smk.input.table), Path("data"))
write_text_atomic(smk.output[0], to_csv(rows))
log_line(smk.log[0], f"{len(rows)} claims: {dict(Counter(r['status'] for r in rows))}")
