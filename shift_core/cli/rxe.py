"""``shift rxe build|boot|run|test|nic``: the soft-RoCE guest and the real-verbs stages (rxe, nic).

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
                  "pingpong, failover (default: all).")
    @click.option("--timeout", default=1500, show_default=True, help="Hard limit for the guest run (s).")
    @click.option("--skip-ok", is_flag=True, help="If the guest cannot run here, write a 'skipped' manifest "
                  "and exit 0 (the pipeline's mode).")
    def test(out: Path, parts: str, timeout: int, skip_ok: bool) -> None:
        """Run the whole in-guest suite in ONE boot and write the rxe stage (data/rxe)."""
        g = guest_module()
        sel = tuple(p for p in parts.split(",") if p)
        bad = [p for p in sel if p not in ("versions", "conformance", "perftest", "pingpong", "failover")]
        if bad:
            raise ShiftUserError(f"unknown --parts {', '.join(bad)}: use versions, conformance, perftest, "
                                 "pingpong, failover")
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
    @click.option("--devices", default=lambda: os.environ.get("SHIFT_NIC_DEVICES", ""),
                  help="host A primary,A backup,B primary,B backup (or $SHIFT_NIC_DEVICES).")
    @click.option("--gid-index", default=3, show_default=True, help="RoCE v2 GID index of the NICs.")
    @click.option("--python", "python", default="/usr/bin/python3", show_default=True,
                  help="The interpreter that has the distribution's python3-pyverbs.")
    @click.option("--out", "out", default="data/nic", show_default=True, type=click.Path(path_type=Path))
    def nic(devices: str, gid_index: int, python: str, out: Path) -> None:
        """The backend conformance suite on real NICs (backend ``nic``), or a 'skipped' manifest saying why."""
        from shift_core.results import manifest, write_json_atomic

        reason = _nic_unavailable(devices, python)
        if reason:
            write_json_atomic(out / "manifest.json", manifest("nic", {"devices": devices}, status="skipped",
                                                              reason=reason))
            click.echo(f"nic: skipped: {reason}")
            return
        env = {**os.environ, "PYTHONPATH": str(PROJECT), "SHIFT_BACKEND": "nic", "SHIFT_DEVICES": devices,
               "SHIFT_GID_INDEX": str(gid_index), "SHIFT_PROJECT": str(PROJECT)}
        out.mkdir(parents=True, exist_ok=True)
        rc = subprocess.run([python, str(RXE_SCRIPTS / "guest_suite.py"), str(out.resolve()), "--parts",
                             "versions,conformance"], env=env, cwd=PROJECT).returncode
        write_json_atomic(out / "manifest.json", manifest("nic", {"devices": devices}, status="ok" if rc == 0
                                                          else "failed", reason="" if rc == 0 else f"rc={rc}"))
        if rc:
            raise ShiftError(f"nic conformance failed (rc={rc}); see {out}/conformance.log")


def _nic_unavailable(devices: str, python: str) -> str:
    """Why the nic stage cannot run (empty string when it can)."""
    names = [d for d in devices.split(",") if d]
    if len(names) != 4:
        return "no NICs named in config (need 4: host A primary,A backup,B primary,B backup; --devices or " \
               "$SHIFT_NIC_DEVICES)"
    probe = ("import sys\ntry:\n import pyverbs.device as d\nexcept ImportError as e:\n print('pyverbs: '+str(e));"
             " sys.exit(0)\ntry:\n print(' '.join(x.name.decode() for x in d.get_device_list()))\n"
             "except Exception as e:\n print('devices: '+str(e))\n")
    try:
        got = subprocess.run([python, "-c", probe], capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        return f"{python} cannot run ({exc}): install the distribution's python3 and python3-pyverbs"
    if got.startswith(("pyverbs:", "devices:")):
        return f"{python} has no usable pyverbs ({got}): install python3-pyverbs, or no RDMA on this host"
    missing = [n for n in names if n not in got.split()]
    return f"RDMA devices {', '.join(missing)} not found (present: {got or 'none'})" if missing else ""
