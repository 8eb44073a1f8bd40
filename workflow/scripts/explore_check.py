"""Fail the pipeline when an explored cell violates config/fault_expectations.yaml (snakemake script).

On success writes data/sim/explore/check.json (per mode: met, runs); on a violation it logs every violated cell
with why and fails, while the exploration's own results stay in place (they are another rule's outputs).
"""

import json
from pathlib import Path

from shift_core.bench.stage import log_line
from shift_core.results import write_json_atomic

smk = snakemake  # type: ignore[name-defined]  # noqa: F821
verdict = {}
for path in smk.input:
    doc = json.loads(Path(path).read_text())
    bad = [f"{c['workload']}/{c['strategy']}: {'; '.join(c['problems'])}" for c in doc["cells"] if not c["met"]]
    if doc["diverged"]:
        bad.append(f"{len(doc['diverged'])} replay(s) diverged from their census")
    verdict[doc["mode"]] = {"met": not bad, "runs": doc["runs"], "violated": bad}
    log_line(smk.log[0], f"{doc['mode']}: {doc['runs']} runs, {'met' if not bad else 'VIOLATED: ' + ' | '.join(bad)}")
met = all(v["met"] for v in verdict.values())
if not met:
    log_line(smk.log[0], "explore_check: an expectation is violated (see data/sim/explore/<mode>.json)")
    raise SystemExit("explore_check: an expectation of config/fault_expectations.yaml is violated; see " + smk.log[0])
write_json_atomic(smk.output[0], {"met": met, "modes": verdict})
