"""Build the Jupyter Book from data/ after every result exists, then check the built pages (snakemake script).

The build is the book's own documented command, ``bash book/build.sh`` (the same one ``make book`` and the
Pages workflow run). Then :func:`shift_book.verify.check_book` reads the built HTML against ``data/``: every
theorem page shows its records with bound, state counts and verdict, and a drawn counterexample for every
impossibility check. A problem fails the rule with one line, so ``make reproduce`` itself proves the book.
"""

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
    jb = Path(sys.executable).with_name("jupyter-book")
    t0 = time.monotonic()
    rc = run_logged(["bash", str(book / "build.sh")], log, env={**os.environ, "JUPYTER_BOOK": str(jb)})
    html = book / "_build" / "html"
    if rc or not (html / "index.html").exists():
        raise SystemExit(f"book: jupyter-book build failed (exit {rc}); see {log}")
    sys.path.insert(0, str(book.resolve() / "_ext"))
    from shift_book.verify import check_book

    data = Path(os.environ.get("SHIFT_DATA_DIR") or "data")
    problems = check_book(html, data, Path.cwd())
    for problem in problems:
        log_line(log, f"book check: {problem}")
    if problems:
        more = f" (+{len(problems) - 1} more in {log})" if len(problems) > 1 else ""
        raise SystemExit(f"book: the built pages do not show the data: {problems[0]}{more}")
    seconds = round(time.monotonic() - t0, 1)
    log_line(log, f"book check: every theorem and boundary record rendered with its data ({seconds} s)")
    write_json_atomic(out, manifest("sim", smk.config, extra={"html": str(html / "index.html"), "seconds": seconds,
                                                              "wall_seconds": seconds}))
