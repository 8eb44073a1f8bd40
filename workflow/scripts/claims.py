"""Generate data/claims.csv (and its HTML view for the Snakemake report) from config/paper_values.yaml and data/
(snakemake script)."""

from collections import Counter
from pathlib import Path

from shift_core.bench.claims import CLASSES, build_rows, to_csv, to_html
from shift_core.bench.stage import log_line
from shift_core.results import write_text_atomic

smk = snakemake  # type: ignore[name-defined]  # noqa: F821
rows = build_rows(Path(smk.input.table), Path("data"))
write_text_atomic(smk.output.csv, to_csv(rows))
write_text_atomic(smk.output.html, to_html(rows))
counts = Counter(r["class"] for r in rows)
log_line(smk.log[0], f"{len(rows)} claims: " + ", ".join(f"{counts[c]} {c}" for c in CLASSES))
