"""Host side of the rxe guest: build the image (cached by package versions), boot it, run a command, collect.

Standard library only, so the CLI (``shift rxe``), the pytest session fixture (tests/rdma) and the Snakemake
rules (workflow/rules/rxe.smk) share one implementation. The guest is Debian bookworm's 6.1 kernel + a
debootstrapped rootfs (build.sh); it mounts the project read-only at /project and a per-run folder read-write
at /host over 9p, runs /host/run.sh and powers off. QEMU always dies with us: hard timeout, own process group,
PR_SET_PDEATHSIG, kill in ``finally``.
"""

from __future__ import annotations

import contextlib
import csv
import ctypes
import fcntl
import hashlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parents[2]
BUILD_ROOT = Path(os.environ.get("SHIFT_RXE_BUILD", PROJECT / "build" / "rxe"))
SUITE = os.environ.get("DEBIAN_SUITE", "bookworm")
#: the guest's Debian packages (also part of the image key)
GUEST_PACKAGES = ("libibverbs1,ibverbs-providers,ibverbs-utils,rdmacm-utils,python3,python3-pyverbs,"
                  "python3-pytest,perftest,iproute2,kmod,procps")
#: daemons of the two-guest topology (twohost.py), installed after debootstrap with service starts disabled:
#: sshd (the nic stage reaches each guest as a user reaches a host) and Redis (SHIFT's KV store, paper §4.2)
DAEMON_PACKAGES = "openssh-server,redis-server,python3-redis"
IMAGE_FILES = ("build.sh", "guest-init.sh", "setup.sh", "teardown.sh", "relink.sh")
HOST_TOOLS = ("qemu-system-x86_64", "debootstrap", "cpio", "dpkg", "chroot")
#: packages whose versions every result manifest reports
KEY_PACKAGES = ("libibverbs1", "ibverbs-providers", "rdma-core", "python3-pyverbs", "perftest", "python3",
                "iproute2")


class GuestUnavailable(Exception):
    """The guest cannot be built or booted here; the message is the skip reason."""


class GuestFailed(Exception):
    """The guest booted but the run did not finish (timeout) or the image is broken."""


@dataclass(frozen=True)
class Image:
    """A built guest image."""

    path: Path
    key: str
    built_now: bool
    build_seconds: float
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def kernel_package(self) -> str:
        return next((f"{k} {v}" for k, v in self.versions.items() if k.startswith("linux-image-")), "unknown")


@dataclass(frozen=True)
class BootResult:
    """One boot: exit code of run.sh (None if it never finished), wall time, accelerator, logs."""

    rc: int | None
    seconds: float
    accel: str
    timed_out: bool
    console: str
    guest_log: str
    run_dir: Path


def debian_mirror() -> str:
    """$DEBIAN_MIRROR, else the first Debian URI in the host's apt sources, else deb.debian.org."""
    if os.environ.get("DEBIAN_MIRROR"):
        return os.environ["DEBIAN_MIRROR"].rstrip("/")
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*.list")),
               *sorted(Path("/etc/apt/sources.list.d").glob("*.sources"))]
    for src in sources:
        with contextlib.suppress(OSError):
            for line in src.read_text().splitlines():
                m = re.search(r"(https?://\S+/debian)/?(\s|$)", line)
                if m and not line.lstrip().startswith("#"):
                    return m.group(1)
    return "http://deb.debian.org/debian"


def _as_root() -> list[str] | None:
    """The prefix that runs a command as root ([] when we are root, ['sudo','-n'] if allowed), else None."""
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0:
        return ["sudo", "-n", "-E"]
    return None


def preflight() -> str | None:
    """Why the guest cannot run here (a one-line reason), or ``None`` when it can."""
    missing = [t for t in HOST_TOOLS if shutil.which(t) is None and not Path("/usr/sbin", t).exists()]
    if missing:
        return f"{', '.join(missing)} not installed (run `sudo scripts/setup-system.sh rxe`)"
    if _as_root() is None and not _cached_images():
        return "building the rxe guest needs root (debootstrap/chroot) and `sudo -n` is not allowed"
    return None


def _scripts_hash() -> str:
    h = hashlib.sha256(f"{SUITE}|{GUEST_PACKAGES}|{DAEMON_PACKAGES}".encode())
    for name in IMAGE_FILES:
        h.update((HERE / name).read_bytes())
    return h.hexdigest()[:10]


def _index_hash(mirror: str) -> str:
    """The hash of the suite's main/binary-amd64 Packages index from its InRelease: it changes exactly when
    some package version in the suite changes, so (scripts, index) keys the image by package versions."""
    url = f"{mirror}/dists/{SUITE}/InRelease"
    for attempt in range(3):  # DNS on CI runners and sandboxes fails transiently
        try:
            with urllib.request.urlopen(url, timeout=15) as r:
                text = r.read().decode("utf-8", "replace")
            break
        except OSError:
            if attempt == 2:
                raise
            time.sleep(2)
    m = re.search(r"^ ([0-9a-f]{64})\s+\d+\s+main/binary-amd64/Packages\.xz$", text, re.M)
    if not m:
        raise GuestUnavailable(f"cannot read the package index hash from {mirror}/dists/{SUITE}/InRelease")
    return m.group(1)[:10]


def _cached_images() -> list[Path]:
    if not BUILD_ROOT.is_dir():
        return []
    done = [p for p in BUILD_ROOT.iterdir() if (p / "guest.cpio").is_file() and (p / "versions.tsv").is_file()]
    return sorted(done, key=lambda p: p.stat().st_mtime, reverse=True)


def image_key() -> str:
    """``<scripts hash>-<package index hash>``; offline, the newest cached image built by the same scripts."""
    scripts = _scripts_hash()
    try:
        return f"{scripts}-{_index_hash(debian_mirror())}"
    except (OSError, GuestUnavailable) as exc:
        same = [p for p in _cached_images() if p.name.startswith(scripts + "-")]
        if same:
            return same[0].name
        raise GuestUnavailable(f"cannot reach the Debian archive to build the rxe guest ({exc})") from None


def read_versions(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in (path / "versions.tsv").read_text().splitlines():
        name, _, ver = line.partition("\t")
        out[name] = ver
    return out


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure_image(log: Path | None = None) -> Image:
    """The guest image for the current package versions, building it (about a minute) if it is not cached.

    :raises GuestUnavailable: tools, root or the archive are missing, or the build failed (message says why).
    """
    reason = preflight()
    if reason:
        raise GuestUnavailable(reason)
    key = image_key()
    out = BUILD_ROOT / key
    with _lock(BUILD_ROOT / ".lock"):
        if (out / "guest.cpio").is_file():
            return Image(out, key, False, 0.0, read_versions(out))
        prefix = _as_root()
        if prefix is None:
            raise GuestUnavailable("building the rxe guest needs root (debootstrap/chroot) and `sudo -n` is not "
                                   "allowed")
        env = {**os.environ, "DEBIAN_MIRROR": debian_mirror(), "DEBIAN_SUITE": SUITE,
               "GUEST_PACKAGES": GUEST_PACKAGES, "DAEMON_PACKAGES": DAEMON_PACKAGES}
        t0 = time.monotonic()
        logf = log or BUILD_ROOT / f"{key}.build.log"
        with open(logf, "w") as fh:
            rc = subprocess.run([*prefix, "bash", str(HERE / "build.sh"), str(out)], stdout=fh,
                                stderr=subprocess.STDOUT, env=env, timeout=1800).returncode
        if rc != 0:
            tail = " | ".join(logf.read_text().splitlines()[-3:])
            raise GuestUnavailable(f"guest image build failed (rc={rc}, log {logf}): {tail}")
        scripts = key.split("-", 1)[0]
        for old in _cached_images():  # keep one image per script version: the cache is shared between clones
            if old != out and old.name.startswith(scripts + "-"):
                shutil.rmtree(old, ignore_errors=True)
        return Image(out, key, True, time.monotonic() - t0, read_versions(out))


def kvm_usable() -> bool:
    """KVM only when /dev/kvm opens and the CPU advertises vmx/svm (nested hosts without them hang in KVM)."""
    if os.environ.get("SHIFT_RXE_ACCEL") in ("tcg", "kvm"):
        return os.environ["SHIFT_RXE_ACCEL"] == "kvm"
    try:
        fd = os.open("/dev/kvm", os.O_RDWR)
        os.close(fd)
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return bool(re.search(r"^flags\s*:.*\b(vmx|svm)\b", flags, re.M))


def _pdeathsig() -> None:
    os.setsid()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


@dataclass
class Running:
    """A started guest: its QEMU process and where its console goes (finish with :func:`finish`)."""

    proc: subprocess.Popen[bytes]
    run_dir: Path
    accel: str
    t0: float


def start(image: Image, run_dir: Path, project: Path = PROJECT, memory_mb: int = 2048, accel: str | None = None,
          smp: int = 2, nics: list[str] | None = None, name: str = "") -> Running:
    """Start the guest (it runs ``run_dir/run.sh`` if present, then powers off); ``nics`` are QEMU network
    arguments (default ``-nic none``). The process dies with us (own session, PR_SET_PDEATHSIG)."""
    accel = accel or ("kvm" if kvm_usable() else "tcg")
    qemu = shutil.which("qemu-system-x86_64")
    if qemu is None:
        raise GuestUnavailable("qemu-system-x86_64 not installed (run `sudo scripts/setup-system.sh rxe`)")
    console = run_dir / "console.log"
    for stale in ("console.log", "guest.log", "run.rc"):
        (run_dir / stale).unlink(missing_ok=True)
    cpu = ["-accel", "kvm", "-cpu", "host"] if accel == "kvm" else ["-accel", "tcg,thread=multi", "-cpu", "qemu64"]
    cmd = [qemu, *cpu, "-smp", str(smp), "-m", str(memory_mb), "-display", "none", "-no-reboot", "-monitor", "none",
           "-serial", f"file:{console}", "-kernel", str(image.path / "vmlinuz"),
           "-initrd", str(image.path / "guest.cpio"), "-append", "console=ttyS0 quiet panic=-1",
           "-virtfs", f"local,path={run_dir},mount_tag=host,security_model=none,id=host",
           "-virtfs", f"local,path={project},mount_tag=project,security_model=none,id=project,readonly=on",
           *(nics or ["-nic", "none"]), *(["-name", name] if name else [])]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=_pdeathsig)
    return Running(proc, run_dir, accel, time.monotonic())


def finish(run: Running, timeout_s: float) -> BootResult:
    """Wait up to ``timeout_s`` for the guest to power off (kill it after that); collect its logs."""
    timed_out = False
    try:
        run.proc.wait(timeout=max(0.0, timeout_s))
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        if run.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(run.proc.pid, signal.SIGKILL)
            run.proc.wait()
    seconds = time.monotonic() - run.t0
    rc_file = run.run_dir / "run.rc"
    rc = int(rc_file.read_text().strip()) if rc_file.is_file() else None
    console = run.run_dir / "console.log"
    text = console.read_text(errors="replace") if console.is_file() else ""
    if run.proc.stderr is not None:
        err = run.proc.stderr.read().decode(errors="replace")
        text += f"\n[qemu stderr]\n{err}" if err.strip() else ""
    glog = run.run_dir / "guest.log"
    return BootResult(rc, seconds, run.accel, timed_out, text,
                      glog.read_text(errors="replace") if glog.is_file() else "", run.run_dir)


def boot(image: Image, run_dir: Path, timeout_s: float, project: Path = PROJECT, memory_mb: int = 2048,
         accel: str | None = None) -> BootResult:
    """Boot the guest once: it runs ``run_dir/run.sh`` (if present) and powers off. Never leaves QEMU behind."""
    return finish(start(image, run_dir, project, memory_mb, accel), timeout_s)


def write_run_script(run_dir: Path, command: str, setup: bool = True) -> None:
    """``run_dir/run.sh``: optionally set up the four rxe devices, then run ``command`` in /project."""
    run_dir.mkdir(parents=True, exist_ok=True)
    lines = ["#!/bin/bash", "export PYTHONPATH=/project PYTHONDONTWRITEBYTECODE=1 SHIFT_RXE_GUEST=1",
             'echo "GUEST: run.sh start uptime=$(cut -d" " -f1 /proc/uptime)"']
    if setup:
        lines += ["rxe-setup.sh || { echo 'GUEST: rxe-setup.sh failed'; exit 97; }",
                  'echo "GUEST: rxe ready uptime=$(cut -d" " -f1 /proc/uptime)"']
    lines += ["cd /project", command, ""]
    script = run_dir / "run.sh"
    script.write_text("\n".join(lines))
    script.chmod(0o755)


def ready_uptime(console_or_log: str) -> float | None:
    """Guest uptime (s) when the four rxe devices were ACTIVE (from run.sh's marker)."""
    m = re.search(r"GUEST: rxe ready uptime=([\d.]+)", console_or_log)
    return float(m.group(1)) if m else None


# -- the suite: one boot, everything ----------------------------------------------------------------------
LIBSHIFT_CANDIDATES = ("build/libshift.so", "csrc/libshift.so", "build/csrc/libshift.so", "build/lib/libshift.so")


def find_libshift(project: Path = PROJECT) -> str:
    """The interposer library, relative to the project (the guest sees it under /project), or ``""``."""
    env = os.environ.get("SHIFT_LIBSHIFT", "")
    if env:
        p = Path(env).resolve()
        return str(p.relative_to(project)) if p.is_relative_to(project) and p.is_file() else ""
    return next((c for c in LIBSHIFT_CANDIDATES if (project / c).is_file()), "")


def build_libshift(log: Path, project: Path = PROJECT) -> str:
    """Build the interposer with its own make target when it is missing (a clean clone in CI); ``""`` if that
    is not possible here (the suite then reports the interposer as absent, with the reason)."""
    if not (project / "csrc" / "Makefile").is_file() or shutil.which("make") is None:
        return ""
    with open(log, "w") as fh:
        subprocess.run(["make", "-C", str(project / "csrc")], stdout=fh, stderr=subprocess.STDOUT,
                       timeout=300)  # libshift.so and the programs the libshift part runs (a no-op when current)
    return find_libshift(project)


@dataclass
class SuiteRun:
    """The in-guest suite's results (one dict per part) plus how the guest was built and booted."""

    image: Image
    boot: BootResult
    parts: dict[str, dict]
    libshift: str

    @property
    def ready_uptime_s(self) -> float | None:
        return ready_uptime(self.boot.guest_log)


def run_suite(run_dir: Path, parts: tuple[str, ...] = (), timeout_s: float = 900) -> SuiteRun:
    """Build (or reuse) the image, boot ONCE, run guest_suite.py, and read back ``out/<part>.json``.

    :raises GuestUnavailable: the guest cannot be built or booted here.
    """
    image = ensure_image()
    out = run_dir / "out"
    shutil.rmtree(out, ignore_errors=True)
    libshift = build_libshift(run_dir / "libshift-build.log") or find_libshift()
    sel = f" --parts {','.join(parts)}" if parts else ""
    env = f"SHIFT_LIBSHIFT={libshift} " if libshift else ""
    write_run_script(run_dir, f"{env}python3 workflow/scripts/rxe/guest_suite.py /host/out{sel}")
    result = boot(image, run_dir, timeout_s)
    (run_dir / "console.txt").write_text(result.console)
    found: dict[str, dict] = {}
    for f in sorted(out.glob("*.json")) if out.is_dir() else []:
        found[f.stem] = json.loads(f.read_text())
    if result.timed_out:
        raise GuestFailed(f"the rxe guest did not finish within {timeout_s:.0f} s (console: {run_dir}/console.txt)")
    return SuiteRun(image, result, found, libshift)


# -- data/rxe ---------------------------------------------------------------------------------------------
def _manifest(status: str, reason: str = "", extra: dict | None = None) -> dict:
    from shift_core.results import manifest

    return manifest("rxe", {"guest_packages": GUEST_PACKAGES, "suite": SUITE}, status=status, reason=reason,
                    extra=extra)


def write_skipped(data_dir: Path, reason: str) -> None:
    """data/rxe/manifest.json saying why the stage did not run (never fake numbers)."""
    from shift_core.results import write_json_atomic

    write_json_atomic(data_dir / "manifest.json", _manifest("skipped", reason))


def _write_csv(path: Path, rows: list[dict]) -> None:
    from shift_core.results import write_text_atomic

    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols and not isinstance(r[k], (dict, list))]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    write_text_atomic(path, buf.getvalue())


def write_stage(run: SuiteRun, data_dir: Path) -> dict:
    """Write the suite's results under ``data_dir`` (data/rxe) with a manifest; returns the manifest."""
    from shift_core.results import write_json_atomic, write_text_atomic

    for part, res in run.parts.items():
        write_json_atomic(data_dir / f"{part}.json", res)
    perf = run.parts.get("perftest", {})
    if perf.get("rows"):
        _write_csv(data_dir / "perftest.csv", [{"backend": "rxe", **r} for r in perf["rows"]])
    fo = run.parts.get("failover", {})
    if fo.get("detection"):
        _write_csv(data_dir / "detection.csv", [{"backend": "rxe", **r} for r in fo["detection"]])
    if isinstance(fo.get("strategies"), dict) and fo["strategies"].get("runs"):
        _write_csv(data_dir / "failover.csv", [{"backend": "rxe", **r} for r in fo["strategies"]["runs"]])
    __import__("libshift_guest").write_outputs(run.parts.get("libshift"), data_dir)  # perftest_timeline.csv/json
    write_text_atomic(data_dir / "console.log", run.boot.console)
    write_text_atomic(data_dir / "guest.log", run.boot.guest_log)
    statuses = {p: r.get("status", "?") for p, r in run.parts.items()}
    bad = [p for p, st in statuses.items() if st in ("error", "failed")]
    m = _manifest("ok" if run.boot.rc == 0 and not bad else "failed",
                  reason=f"parts failed: {', '.join(bad)}" if bad else "",
                  extra={"guest": {"image_key": run.image.key, "kernel": run.image.kernel_package,
                                   "packages": {k: v for k, v in run.image.versions.items() if k in KEY_PACKAGES
                                                or k.startswith("linux-image-")},
                                   "accel": run.boot.accel, "image_build_seconds": round(run.image.build_seconds, 1),
                                   "image_built_now": run.image.built_now,
                                   "boot_to_rxe_ready_uptime_s": run.ready_uptime_s,
                                   "boot_wall_seconds": round(run.boot.seconds, 1), "run_rc": run.boot.rc},
                         "parts": statuses, "interposer": run.libshift or "absent"})
    write_json_atomic(data_dir / "manifest.json", m)
    return m


def summarize(run: SuiteRun) -> str:
    """A few human lines: build and boot time, conformance, perftest ratios, detection, failover."""
    img = run.image
    lines = [f"rxe guest: image {img.key} ({img.kernel_package}), "
             + (f"built in {img.build_seconds:.0f} s" if img.built_now else "cached")
             + f"; {run.boot.accel} boot to 4 ACTIVE rxe devices at guest uptime {run.ready_uptime_s} s; "
             f"whole boot {run.boot.seconds:.0f} s wall, run.sh rc={run.boot.rc}"]
    conf = run.parts.get("conformance", {})
    lines.append(f"conformance on rxe: {conf.get('counts')} ({', '.join(conf.get('paths', []))})")
    perf = run.parts.get("perftest", {})
    for tool, s in perf.get("summary", {}).items():
        ratio = s.get("ratio_interposer_over_plain")
        pair = s.get("median_pair_ratio")
        lines.append(f"{tool}: median {s['metric']} plain={s.get('median_plain')} interposer="
                     f"{s.get('median_interposer')} ratio={ratio if ratio is None else round(ratio, 4)} "
                     f"median pair ratio={pair if pair is None else round(pair, 4)}"
                     + ("" if ratio is not None else f" ({perf.get('interposer')})"))
    pp = run.parts.get("pingpong", {})
    lines.append(f"ibv_rc_pingpong under interposer: {pp.get('status')} {pp.get('reason', '')}".rstrip())
    for d in run.parts.get("failover", {}).get("detection", []):
        lines.append(f"detect {d['scenario']}: first async {d['first_async_ms']} ms {d['async_events']}, "
                     f"first error {d['first_error_ms']} ms {d['first_error_status']} (timeout {d['timeout']}, "
                     f"retry {d['retry_cnt']})")
    st = run.parts.get("failover", {}).get("strategies", {})
    if st.get("status") == "skipped":
        lines.append(f"strategies: skipped: {st.get('reason')}")
    for r in st.get("runs", []):
        lines.append(f"{r.get('strategy')} {r.get('workload')} {r.get('scenario')}: outcome={r.get('outcome')} "
                     f"intact={r.get('data_intact')} downtime_ms={r.get('downtime_ms')} "
                     f"switch_back={r.get('switched_back')}")
    return "\n".join(lines)
