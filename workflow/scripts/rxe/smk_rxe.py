"""Snakemake script of workflow/rules/rxe.smk: build the guest image, or run the suite and write data/rxe.

Both steps degrade to a recorded skip (``status: skipped`` + reason) when the guest cannot run here, so the
pipeline goes on and the book says why the rxe column is empty.
"""

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import rxe_guest as g

from shift_core.results import write_json_atomic

smk = snakemake  # type: ignore[name-defined]  # noqa: F821
out = Path(smk.output[0])
logf = Path(smk.log[0])
logf.parent.mkdir(parents=True, exist_ok=True)


def log(msg: str) -> None:
    with open(logf, "a") as fh:
        fh.write(msg + "\n")


if not smk.params.enabled:
    reason = "disabled in config (backends.rxe.enabled: false)"
    if smk.params.step == "guest":
        write_json_atomic(out, {"status": "skipped", "reason": reason})
    else:
        g.write_skipped(out.parent, reason)
    log(f"skipped: {reason}")
elif smk.params.step == "guest":
    t0 = time.monotonic()
    try:
        img = g.ensure_image(log=logf.with_suffix(".build.log"))
        write_json_atomic(out, {"status": "ok", "key": img.key, "path": str(img.path), "versions": img.versions,
                                "built_now": img.built_now, "build_seconds": round(img.build_seconds, 1)})
        log(f"image {img.key} ({'built' if img.built_now else 'cached'}) in {time.monotonic() - t0:.1f} s")
    except g.GuestUnavailable as exc:
        write_json_atomic(out, {"status": "skipped", "reason": str(exc)})
        log(f"skipped: {exc}")
else:
    run_dir = Path(tempfile.mkdtemp(prefix="shift-rxe-"))
    try:
        suite = g.run_suite(run_dir)
    except g.GuestUnavailable as exc:
        g.write_skipped(out.parent, str(exc))
        log(f"skipped: {exc}")
    else:
        m = g.write_stage(suite, out.parent)
        log(g.summarize(suite))
        log(f"status {m['status']} {m['reason']}")
        if m["status"] != "ok":
            raise SystemExit(f"rxe stage failed: {m['reason'] or 'run.sh rc=' + str(suite.boot.rc)} "
                             f"(see {out.parent}/guest.log)")
