# Stage rxe (owned by the rxe issue): real soft-RoCE in a QEMU guest built from Debian packages.
# rxe_guest builds (or reuses) the image keyed by package versions; rxe_suite boots it ONCE and runs the whole
# in-guest suite (backend conformance, perftest with/without the interposer, ibv_rc_pingpong under it, link
# faults x strategies). Without QEMU / debootstrap / root, or with backends.rxe.enabled false, both rules
# record "skipped: <why>" instead of failing or faking numbers.


rule rxe_guest:
    """Build (or reuse) the QEMU soft-RoCE guest image from Debian packages, keyed by their versions
    (build/rxe/guest.json), or record why it cannot be built here."""
    input:
        "workflow/scripts/rxe/build.sh",
        "workflow/scripts/rxe/guest-init.sh",
        "workflow/scripts/rxe/setup.sh",
        "workflow/scripts/rxe/teardown.sh",
        "workflow/scripts/rxe/relink.sh",
    output:
        "build/rxe/guest.json",
    log:
        "logs/rxe/guest.log",
    params:
        enabled=config["backends"]["rxe"]["enabled"],
        step="guest",
    conda:
        "../envs/shift.yaml"
    script:
        "../scripts/rxe/smk_rxe.py"


rule rxe_suite:
    """Boot the rxe guest once and run the in-guest suite (conformance, perftest with/without the interposer,
    ibv_rc_pingpong, link faults x strategies) into data/rxe/, or record why it was skipped."""
    input:
        "build/rxe/guest.json",
        sources("verbs"),
        sources("shift"),
        sources("kv"),
        sorted(str(p) for p in Path("tests/rdma/guest").glob("*.py")),
        "workflow/scripts/rxe/guest_suite.py",
        "workflow/scripts/rxe/failover_guest.py",
    output:
        "data/rxe/manifest.json",
    log:
        "logs/rxe/suite.log",
    benchmark:
        "logs/rxe/suite.benchmark.tsv"
    params:
        enabled=config["backends"]["rxe"]["enabled"],
        step="suite",
    conda:
        "../envs/shift.yaml"
    script:
        "../scripts/rxe/smk_rxe.py"
