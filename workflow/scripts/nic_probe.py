"""Probe for the real RDMA NICs named in config with the distribution's pyverbs (snakemake script).

Runs only a device listing; with no devices named, no pyverbs, or a device missing, the stage records
"skipped: <why>". Benchmarks on real NICs are run by the rxe issue's suite with backend ``nic``.
"""

import json
import subprocess

from shift_core.bench.stage import log_line, write_skipped
from shift_core.results import manifest, write_json_atomic

smk = snakemake  # type: ignore[name-defined]  # noqa: F821
out, log = smk.output[0], smk.log[0]
wanted = list(smk.params.devices)
LIST = ("import json, pyverbs.device as d\n"
        "try:\n    devs = [x.name.decode() for x in d.get_device_list()]\n"
        "except Exception as e:\n    devs = []\n    print('#', type(e).__name__, e)\n"
        "print(json.dumps(devs))\n")


def probe():
    if not wanted:
        return None, "no devices named in config (backends.nic.devices)"
    try:
        proc = subprocess.run([smk.params.python, "-c", LIST], capture_output=True, text=True, timeout=60, check=False)
    except OSError as exc:
        return None, f"cannot run {smk.params.python}: {exc.strerror}"
    log_line(log, proc.stdout + proc.stderr)
    if proc.returncode:
        return None, f"pyverbs not importable by {smk.params.python} (install python3-pyverbs)"
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    missing = [d for d in wanted if d not in found]
    if missing:
        return found, f"devices not found: {', '.join(missing)} (pyverbs lists {found or 'none'})"
    return found, None


found, why = probe()
if why:
    write_skipped([out], "nic", why, smk.config)
    log_line(log, f"skipped: {why}")
else:
    write_json_atomic(out, manifest("nic", smk.config, status="skipped",
                                    reason="devices found; nic benchmarks run through the rxe suite with backend nic",
                                    extra={"devices": found, "peer": smk.params.peer}))
    log_line(log, f"found {found}")
