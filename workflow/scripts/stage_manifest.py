"""Write a stage's manifest.json: provenance plus the status of every result in the stage (snakemake script)."""

import json
from pathlib import Path

from shift_core.bench.stage import log_line
from shift_core.results import manifest, write_json_atomic

smk = snakemake  # type: ignore[name-defined]  # noqa: F821
results = {}
wall = 0.0
for path in smk.input:
    record = json.loads(Path(path).read_text()) if path.endswith(".json") else {}
    status = record.get("status") or record.get("manifest", {}).get("status") or "ok"
    reason = record.get("reason") or record.get("manifest", {}).get("reason") or ""
    results[Path(path).name] = {"status": status, "reason": reason}
    parts = record.get("results") if isinstance(record.get("results"), list) else []
    wall += float(record.get("wall_seconds") or record.get("seconds")
                  or sum(float(r.get("seconds") or 0.0) for r in parts if isinstance(r, dict)))
skipped = sorted(name for name, r in results.items() if r["status"] == "skipped")
status = "ok" if not skipped else ("skipped" if len(skipped) == len(results) else "partial")
reason = "; ".join(f"{name}: {results[name]['reason']}" for name in skipped)
write_json_atomic(smk.output[0], manifest(smk.params.backend, smk.config, status=status, reason=reason,
                                          extra={"stage": smk.params.stage, "results": results,
                                                 "wall_seconds": round(wall, 2)}))
log_line(smk.log[0], f"{smk.params.stage}: {status} ({len(results)} results, {len(skipped)} skipped)")
