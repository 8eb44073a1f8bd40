"""``shift rxe build|boot|run|test|nic|twohost``: the soft-RoCE guest and the real-verbs stages (rxe, nic).

``nic`` runs the two-host suite (:mod:`shift_core.realverbs`) between this machine (or ``backends.nic.host``)
and ``backends.nic.peer`` over ssh; ``twohost`` boots two guests as such a pair and runs a command against them.

The host side lives in ``workflow/scripts/rxe/rxe_guest.py`` (shared with the pipeline and tests/rdma); this
module is its command line. Missing QEMU / debootstrap / root is a one-line error, or -- with
``--skip-ok``, as the pipeline calls it -- a ``skipped`` manifest that says why (never fake numbers).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import click

from shift_core.errors import NoDevice, ShiftError, ShiftUserError

PROJECT = Path(__file__).resolve().parents[2]
RXE_SCRIPTS = PROJECT / "workflow" / "scripts" / "rxe"


def guest_module() -> Any:
    """``rxe_guest`` from the project's workflow/scripts/rxe (present in a clone of the artifact)."""
    if not (RXE_SCRIPTS / "rxe_guest.py").is_file():
        raise ShiftUserError(f"{RXE_SCRIPTS}/rxe_guest.py not found: run `shift rxe` from a clone of the artifact")
    if str(RXE_SCRIPTS) not in sys.path:
        sys.path.insert(0, str(RXE_SCRIPTS))
    import rxe_guest

    return rxe_guest


def _unavailable(exc: Exception) -> ShiftError:
    return NoDevice(f"rxe guest unavailable: {exc}")


def register(group: click.Group) -> None:
    @group.group(name="rxe")
    def rxe() -> None:
        """Real soft-RoCE (rdma_rxe) in a QEMU guest built from Debian packages, and real NICs."""

    @rxe.command()
    def build() -> None:
        """Build (or reuse) the guest image, keyed by the Debian package versions."""
        g = guest_module()
        t0 = time.monotonic()
        try:
            img = g.ensure_image()
        except g.GuestUnavailable as exc:
            raise _unavailable(exc) from None
        state = f"built in {img.build_seconds:.0f} s" if img.built_now else "cached"
        click.echo(f"rxe guest image {img.key}: {img.path} ({state}; {time.monotonic() - t0:.1f} s)")
        click.echo(f"  kernel {img.kernel_package}")
        for pkg in g.KEY_PACKAGES:
            if pkg in img.versions:
                click.echo(f"  {pkg} {img.versions[pkg]}")

    @rxe.command()
    @click.option("--timeout", default=300, show_default=True, help="Hard limit for the boot (s).")
    def boot(timeout: int) -> None:
        """Boot the guest, bring up the four rxe devices, list them, power off (a smoke test)."""
        _run(["rdma link show && ibv_devices"], True, timeout)

    @rxe.command(context_settings={"ignore_unknown_options": True})
    @click.option("--setup/--no-setup", default=True, show_default=True, help="Create the veths and rxe devices.")
    @click.option("--timeout", default=900, show_default=True, help="Hard limit for the whole boot (s).")
    @click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
    def run(setup: bool, timeout: int, command: tuple[str, ...]) -> None:
        """Run COMMAND in the guest (in /project, as root, Debian python3 + pyverbs); print its output."""
        _run(list(command), setup, timeout)

    def _run(command: list[str], setup: bool, timeout: int) -> None:
        g = guest_module()
        try:
            img = g.ensure_image()
        except g.GuestUnavailable as exc:
            raise _unavailable(exc) from None
        cmd = command[0] if len(command) == 1 else shlex.join(command)
        with tempfile.TemporaryDirectory(prefix="shift-rxe-") as tmp:
            g.write_run_script(Path(tmp), cmd, setup=setup)
            res = g.boot(img, Path(tmp), timeout)
        click.echo(res.guest_log, nl=False)
        ready = g.ready_uptime(res.guest_log)
        click.echo(f"[rxe] {res.accel}: {res.seconds:.1f} s wall" + (f", rxe ready at uptime {ready} s" if ready
                                                                    else "") + f", rc={res.rc}", err=True)
        if res.timed_out:
            raise ShiftError(f"the guest did not finish within {timeout} s (raise --timeout)")
        if res.rc:
            raise SystemExit(res.rc)

    @rxe.command()
    @click.option("--out", "out", default="data/rxe", show_default=True, type=click.Path(path_type=Path),
                  help="Stage directory for results and manifest.json.")
    @click.option("--parts", default="", help="Comma-separated subset of: versions, conformance, perftest, "
                  "pingpong, failover, libshift (default: all).")
    @click.option("--timeout", default=1500, show_default=True, help="Hard limit for the guest run (s).")
    @click.option("--skip-ok", is_flag=True, help="If the guest cannot run here, write a 'skipped' manifest "
                  "and exit 0 (the pipeline's mode).")
    def test(out: Path, parts: str, timeout: int, skip_ok: bool) -> None:
        """Run the whole in-guest suite in ONE boot and write the rxe stage (data/rxe)."""
        g = guest_module()
        import guest_suite  # the in-guest suite's own list of parts (guest_module put its folder on sys.path)

        sel = tuple(p for p in parts.split(",") if p)
        bad = [p for p in sel if p not in guest_suite.PARTS]
        if bad:
            raise ShiftUserError(f"unknown --parts {', '.join(bad)}: use {', '.join(guest_suite.PARTS)}")
        run_dir = Path(tempfile.mkdtemp(prefix="shift-rxe-"))
        try:
            suite = g.run_suite(run_dir, sel, timeout)
        except g.GuestUnavailable as exc:
            if skip_ok:
                g.write_skipped(out, str(exc))
                click.echo(f"rxe: skipped: {exc}")
                return
            raise _unavailable(exc) from None
        m = g.write_stage(suite, out)
        click.echo(g.summarize(suite))
        click.echo(f"rxe stage: {m['status']} -> {out}/manifest.json (guest run folder {run_dir})")
        if m["status"] != "ok":
            raise ShiftError(f"rxe stage failed: {m['reason'] or 'run.sh rc=' + str(suite.boot.rc)} "
                             f"(see {out}/guest.log)")

    @rxe.command()
    @click.option("--config", "configs", multiple=True, type=click.Path(path_type=Path),
                  help="Config file(s) merged over config/config.yaml (e.g. the one `shift rxe twohost` writes).")
    @click.option("--peer", default=None, help="ssh destination of the peer (backends.nic.peer).")
    @click.option("--host", "host", default=None, help="'local' or an ssh destination (backends.nic.host).")
    @click.option("--devices", default=None, help="primary,backup (both hosts) or host primary,host backup,peer "
                  "primary,peer backup (backends.nic.devices).")
    @click.option("--backend", type=click.Choice(["nic", "rxe"]), default=None,
                  help="Label of the results, checked against the devices' driver (backends.nic.backend).")
    @click.option("--parts", default="", help="Comma-separated subset of: verbs_cost, latency, interposer, "
                  "timeline, downtime, faults (default: all).")
    @click.option("--data", "data", default="data", show_default=True, type=click.Path(path_type=Path),
                  help="Results root: the suite writes <data>/<backend>/.")
    def nic(configs: tuple[Path, ...], peer: str | None, host: str | None, devices: str | None,
            backend: str | None, parts: str, data: Path) -> None:
        """The real-verbs suite between two hosts over ssh (the nic stage; book/runbook.md)."""
        from shift_core.bench.config import load_config
        from shift_core.realverbs.plan import PARTS
        from shift_core.realverbs.stage import run_stage

        config = load_config(*configs)
        nic_cfg = config["backends"]["nic"]
        for key, value in (("peer", peer), ("host", host), ("backend", backend)):
            if value is not None:
                nic_cfg[key] = value
        if devices is not None:
            nic_cfg["devices"] = [d for d in devices.split(",") if d]
        sel = [p for p in parts.split(",") if p]
        bad = [p for p in sel if p not in PARTS]
        if bad:
            raise ShiftUserError(f"unknown --parts {', '.join(bad)}: use {', '.join(PARTS)}")

        def on_event(ev: dict[str, Any]) -> None:
            if ev["event"] == "run":
                click.echo(f"  run {ev['index'] + 1}: {ev['name']}: {ev['status']} {ev['error']} "
                           f"({ev['seconds']:.1f} s)")

        m = run_stage(config, data, lambda msg: click.echo(msg), on_event, sel or None)
        click.echo(f"{m['backend']}: {m['status']} -> {data}/{m['backend']}/ ({m['runs']} runs, "
                   f"{len(m['failed_runs'])} failed, {m['wall_seconds']} s) {m['reason']}".rstrip())

    @rxe.command(context_settings={"ignore_unknown_options": True})
    @click.option("--workdir", default="build/twohost", show_default=True, type=click.Path(path_type=Path),
                  help="Run folders, ssh key and config of the two guests.")
    @click.argument("command", nargs=-1, type=click.UNPROCESSED)
    def twohost(workdir: Path, command: tuple[str, ...]) -> None:
        """Boot TWO guests as two RDMA hosts (host + peer, soft-RoCE on two links each), run COMMAND with
        '{config}' replaced by the nic-stage config that points at them, then power both off.

        Example: shift rxe twohost -- snakemake --snakefile workflow/Snakefile --cores 2 --configfile {config}
        """
        import yaml

        from shift_core.results import write_text_atomic

        g = guest_module()
        import twohost as th

        workdir = workdir.resolve()
        try:
            with th.two_guests(workdir, log=click.echo) as guests:
                overlay = workdir / "config.yaml"
                write_text_atomic(overlay, yaml.safe_dump({"backends": {"nic": guests.stage_config()}}))
                click.echo(f"host and peer up ({guests.boot_seconds:.0f} s): ssh -F {guests.ssh_config} "
                           f"shift-host | shift-peer; nic-stage config {overlay}")
                if not command:
                    click.echo("no command given: press Ctrl-C to power both guests off")
                    while True:
                        time.sleep(3600)
                argv = [a.replace("{config}", str(overlay)) for a in command]
                rc = subprocess.run(argv, cwd=PROJECT, env={**os.environ, "SHIFT_TWOHOST_CONFIG": str(overlay)}
                                    ).returncode
        except g.GuestUnavailable as exc:
            raise _unavailable(exc) from None
        except g.GuestFailed as exc:
            raise ShiftError(str(exc)) from None
        if rc:
            raise SystemExit(rc)
