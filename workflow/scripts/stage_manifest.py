"""Write a stage's manifest.json: provenance, the status of every result in the stage, and the stage's measured
wall time (snakemake script).

``wall_seconds`` is the sum of the wall times Snakemake measured for the stage's jobs (their ``benchmark:``
files), so it counts every job once however many ran in parallel; ``job_seconds`` keeps them one by one.
"""

import json
from pathlib import Path

from shift_core.bench.stage import log_line
from shift_core.results import benchmark_seconds, manifest, write_json_atomic

smk = snakemake  # type: ignore[name-defined]  # noqa: F821
results = {}
for path in smk.input.results:
    record = json.loads(Path(path).read_text()) if path.endswith(".json") else {}
    head = record.get("manifest") if isinstance(record.get("manifest"), dict) else record
    results[Path(path).name] = {"status": head.get("status") or "ok", "reason": head.get("reason") or ""}
jobs = {Path(b).name.removesuffix(".benchmark.tsv"): benchmark_seconds(b) for b in smk.input.benchmarks}
skipped = sorted(name for name, r in results.items() if r["status"] == "skipped")
status = "ok" if not skipped else ("skipped" if len(skipped) == len(results) else "partial")
reason = "; ".join(f"{name}: {results[name]['reason']}" for name in skipped)
write_json_atomic(smk.output[0], manifest(smk.params.backend, smk.config, status=status, reason=reason,
                                          wall_seconds=sum(jobs.values()),
                                          extra={"stage": smk.params.stage, "results": results,
                                                 "job_seconds": jobs}))
log_line(smk.log[0], f"{smk.params.stage}: {status} ({len(results)} results, {len(skipped)} skipped, "
                     f"{sum(jobs.values()):.1f} s of jobs)")
