"""Build the C fast path (`python -m shift_core.fastpath.build`, `make -C csrc`) and run its microbenchmark.

Snakemake script of rule build_fastpath; the microbenchmark runs with every core of the job (``threads``), since
its issue notes that numbers taken under load are meaningless.
"""

import json
from pathlib import Path

from shift_core.bench.stage import log_line, module_available, python_module, run_logged, write_skipped
from shift_core.results import manifest, write_json_atomic

smk = snakemake  # type: ignore[name-defined]  # noqa: F821
out, log = Path(smk.output[0]), smk.log[0]
missing = module_available("shift_core.fastpath.build")
if missing:
    write_skipped([out], "sim", missing, smk.config)
    log_line(log, f"skipped: {missing}")
else:
    rc = run_logged(python_module("shift_core.fastpath.build"), log)
    if rc:
        raise SystemExit(f"fast path build failed (exit {rc}); see {log}")
    extra: dict = {"stage": "fastpath", "built": True}
    csrc = Path("csrc")
    if (csrc / "Makefile").exists():  # the C core and the libshift interposer (needs gcc + libibverbs-dev)
        rc = run_logged(["make", "-C", str(csrc)], log)
        extra["interposer"] = "built" if rc == 0 else f"skipped: make -C csrc exited {rc} (see {log}; " \
            "apt-get install gcc libibverbs-dev)"
    bench = out.parent / "microbench.json"
    if smk.params.microbench:
        why = module_available("shift_core.fastpath.microbench")
        if why:
            extra["microbench"] = f"skipped: {why}"
        else:  # writes microbench.{json,csv} (and its own manifest, replaced below) into data/fastpath/
            rc = run_logged(python_module("shift_core.fastpath.microbench", "--out", str(out.parent)), log)
            if rc or not bench.exists():
                raise SystemExit(f"fast path microbenchmark failed (exit {rc}); see {log}")
            extra["microbench"] = {r["pattern"] + f"/batch{r['batch']}": r["added_ns_per_wr"]
                                   for r in json.loads(bench.read_text())["results"]}
    write_json_atomic(out, manifest("native", smk.config, extra=extra))
