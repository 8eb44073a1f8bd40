"""Run the two-host real-verbs suite and write data/<backend>/ (snakemake script of rule twohost_suite).

The hosts come from config ``backends.nic``; a host that cannot be reached, a missing device or tool, or
devices of the other kind than ``backend`` stop the rule with one line (nothing is written, so the next run
tries again once it is fixed). Progress (one line per run) goes to the rule's log.
"""

import sys
import time
from pathlib import Path

from shift_core.errors import ShiftError
from shift_core.realverbs.stage import run_stage

smk = snakemake  # type: ignore[name-defined]  # noqa: F821
log = Path(smk.log[0])
log.parent.mkdir(parents=True, exist_ok=True)
label = smk.wildcards.backend
t0 = time.monotonic()


def say(msg: str) -> None:
    with open(log, "a") as fh:
        fh.write(f"[{time.monotonic() - t0:7.1f} s] {msg}\n")
    print(f"twohost: {msg}", file=sys.stderr, flush=True)


def on_event(ev: dict) -> None:
    if ev["event"] == "run":
        say(f"run {ev['index'] + 1}: {ev['name']}: {ev['status']} {ev['error']} ({ev['seconds']:.1f} s)")
    elif ev["event"] == "error":
        say(f"error: {ev['message']}")


config = dict(smk.config)
if smk.params.nic["backend"] != label:
    raise SystemExit(f"data/{label}/ was requested but backends.nic.backend is {smk.params.nic['backend']!r}: "
                     f"set backends.nic.backend: {label}")
try:
    m = run_stage(config, "data", say, on_event, log_dir=log.parent / "twohost")
except ShiftError as exc:  # one line: what is missing, where, and what to do
    say(str(exc))
    raise SystemExit(f"twohost suite: {exc}") from None
say(f"{m['status']}: {m['runs']} runs, {len(m['failed_runs'])} failed, {m['wall_seconds']} s {m['reason']}")
