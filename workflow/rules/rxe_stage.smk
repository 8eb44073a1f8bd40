# Stage rxe: soft-RoCE in a QEMU guest. rules/rxe.smk (owned by the rxe issue) defines the rules and produces
# data/rxe/manifest.json (status ok, or skipped with the reason). With backends.rxe.enabled false, or until
# rxe.smk exists, one rule here records why the stage did not run.
from pathlib import Path

if config["backends"]["rxe"]["enabled"] and Path(workflow.basedir, "rules", "rxe.smk").exists():

    include: "rxe.smk"

else:

    rule rxe_unavailable:
        """Record why the rxe stage did not run (disabled in config, or rules/rxe.smk absent) in
        data/rxe/manifest.json, so the claims and the book say so instead of showing nothing."""
        output:
            "data/rxe/manifest.json",
        log:
            "logs/rxe/manifest.log",
        benchmark:
            "logs/rxe/manifest.benchmark.tsv"
        params:
            reason=get_rxe_skip_reason(),
        conda:
            "../envs/shift.yaml"
        script:
            "../scripts/skip_stage.py"
