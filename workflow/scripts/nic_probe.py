"""The nic stage's manifest (snakemake script): what the two-host suite did on real NICs, or why it did not run.

Three cases: no peer configured (skipped, with the config key to set); the configured hosts run soft-RoCE
(skipped: their results are backend ``rxe``, in data/rxe/twohost.json, never nic); real NICs (the manifest of
data/nic/twohost.json: status, hosts, drivers, wall time).
"""

import json
from pathlib import Path

from shift_core.bench.stage import log_line, write_skipped
from shift_core.results import write_json_atomic

smk = snakemake  # type: ignore[name-defined]  # noqa: F821
out, log = smk.output[0], smk.log[0]
if not smk.params.peer:
    why = ("no peer host configured: set backends.nic.peer (ssh destination) and backends.nic.devices "
           "(book/runbook.md)")
elif smk.params.backend != "nic":
    why = "the configured hosts run soft-RoCE (backends.nic.backend: rxe): their results are backend rxe, in data/rxe/"
else:
    why = ""
if why:
    write_skipped([out], "nic", why, smk.config)
    log_line(log, f"skipped: {why}")
else:
    suite = json.loads(Path(smk.input[0]).read_text())
    write_json_atomic(out, {**suite, "stage": "nic"})
    log_line(log, f"nic stage: {suite['status']} {suite.get('reason', '')}")
