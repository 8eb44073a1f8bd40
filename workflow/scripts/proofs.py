"""Compile the upstream Rocq development and record Print Assumptions of its key theorems (snakemake script).

Needs ``coqc`` (or ``rocq``) on PATH and a local checkout (config ``proofs.rocq_path``); nothing can be
downloaded here. Debian's coq 8.16 predates the ``Stdlib`` library name, so ``From Stdlib`` is mapped to
``From Coq`` in a copy of the sources. Anything missing gives "skipped: <reason>" in the manifest.
"""

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from shift_core.bench.stage import log_line, write_skipped
from shift_core.results import manifest, write_json_atomic

smk = snakemake  # type: ignore[name-defined]  # noqa: F821
out, log, p = smk.output[0], smk.log[0], smk.params
coqc = shutil.which("coqc") or shutil.which("rocq")
src = Path(p.rocq_path) if p.rocq_path else None
if coqc is None:
    why = "coqc/rocq not on PATH (Debian: apt-get install coq)"
elif src is None:
    why = "proofs.rocq_path is empty (point it at a checkout of taooceros/shift-verification)"
elif not src.is_dir():
    why = f"proofs.rocq_path {src} does not exist"
else:
    why = None
if why:
    write_skipped([out], "model", why, smk.config)
    log_line(log, f"skipped: {why}")
else:
    work = Path(tempfile.mkdtemp(prefix="shift-rocq-"))
    root = work / "dev"
    shutil.copytree(src, root, ignore=shutil.ignore_patterns(".git"))
    files = sorted(root.rglob("*.v"))
    for f in files:
        f.write_text(re.sub(r"\bFrom Stdlib\b", "From Coq", f.read_text()))
    coq_dir = next((d for d in (root / "coq", root) if (d / "_CoqProject").exists()), root)
    proc = subprocess.run(["bash", "-c", "coq_makefile -f _CoqProject -o Makefile.coq && make -f Makefile.coq"],
                          cwd=coq_dir, capture_output=True, text=True, check=False)
    log_line(log, proc.stdout + proc.stderr)
    if proc.returncode:
        raise SystemExit(f"Rocq development failed to compile; see {log}")
    assumptions = {}
    for thm in p.theorems:
        owner = next((f for f in files if re.search(rf"\b(Theorem|Lemma)\s+{re.escape(thm)}\b", f.read_text())), None)
        if owner is None:
            assumptions[thm] = "not found in the development"
            continue
        rel = owner.relative_to(coq_dir).with_suffix("")
        q = subprocess.run([coqc, "-q", "-R", ".", "", "-"], cwd=coq_dir, capture_output=True, text=True,
                           input=f"Require Import {'.'.join(rel.parts)}.\nPrint Assumptions {thm}.\n", check=False)
        assumptions[thm] = (q.stdout + q.stderr).strip()
    write_json_atomic(out, manifest("model", smk.config, extra={"commit": p.commit, "coqc": coqc,
                                                                "files": len(files), "assumptions": assumptions}))
    shutil.rmtree(work, ignore_errors=True)
