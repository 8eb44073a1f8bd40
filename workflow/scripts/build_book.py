"""Build the Jupyter Book from data/ after every result exists (`bash book/build.sh`) (snakemake script)."""

import os
import sys
import time
from pathlib import Path

from shift_core.bench.stage import log_line, run_logged, write_skipped
from shift_core.results import manifest, write_json_atomic

smk = snakemake  # type: ignore[name-defined]  # noqa: F821
out, log, book = smk.output[0], smk.log[0], Path(smk.config["book"]["dir"])
if not (book / "_config.yml").exists():
    why = f"no book at {book} (missing _config.yml)"
    write_skipped([out], "sim", why, smk.config)
    log_line(log, f"skipped: {why}")
else:
    script = book / "build.sh"  # the book's documented build (vendors MathJax, warnings as errors)
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = ["bash", str(script)] if script.exists() else [str(jb), "build", str(book)]
    t0 = time.monotonic()
    rc = run_logged(cmd, log, env={**os.environ, "JUPYTER_BOOK": str(jb)})
    html = book / "_build" / "html" / "index.html"
    if rc or not html.exists():
        raise SystemExit(f"jupyter-book build failed (exit {rc}); see {log}")
    write_json_atomic(out, manifest("sim", smk.config, extra={"html": str(html),
                                                              "seconds": round(time.monotonic() - t0, 1)}))
