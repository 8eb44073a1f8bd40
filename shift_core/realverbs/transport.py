"""How the controller reaches each host: ``ssh`` with the user's own keys and config, or locally.

One ssh connection per host is kept open for the whole suite (OpenSSH connection sharing: ``ControlMaster``),
so the probe, the code copy and the agent do not each pay a key exchange. ``BatchMode`` means ssh never
prompts: a host it cannot reach with the user's keys is a one-line error naming the host, the config key
and the command to try. The agent and its modules are copied to the host with ``tar`` over the same
connection, into a cache directory named by their content hash (copied once per code version).
"""

from __future__ import annotations

import hashlib
import io
import shlex
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from shift_core.errors import ShiftUserError

PROJECT = Path(__file__).resolve().parents[2]
LOCAL = "local"
#: what a host needs of the project: the package (standard-library parts run there) and the built interposer
SHIPPED = ("shift_core",)
LIBSHIFT = Path("csrc/libshift.so")


@dataclass
class Remote:
    """One host as the controller sees it: ``dest`` is ``local`` or an ssh destination."""

    role: str                       #: "host" or "peer" (names the config key in errors)
    dest: str
    control_dir: Path
    ssh_config: str = ""
    ssh_options: tuple[str, ...] = ()
    python: str = "/usr/bin/python3"
    workdir: str = field(default="", init=False)  #: where the shipped code lives on that host

    @property
    def local(self) -> bool:
        return self.dest == LOCAL

    def ssh_argv(self) -> list[str]:
        cfg = ["-F", self.ssh_config] if self.ssh_config else []
        return ["ssh", *cfg, "-o", "BatchMode=yes", "-o", "ControlMaster=auto", "-o",
                f"ControlPath={self.control_dir}/%C", "-o", "ControlPersist=600", "-o", "ServerAliveInterval=15",
                "-T", *self.ssh_options, self.dest]

    def argv(self, command: str) -> list[str]:
        return ["bash", "-c", command] if self.local else [*self.ssh_argv(), command]

    def run(self, command: str, timeout_s: float = 120,
            stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        try:
            return subprocess.run(self.argv(command), input=stdin, capture_output=True, timeout=timeout_s,
                                  check=False, cwd=PROJECT if self.local else None)
        except subprocess.TimeoutExpired:
            raise ShiftUserError(f"{self.role} {self.dest}: `{command[:60]}` did not finish within {timeout_s:.0f} s "
                                 f"(is the host overloaded or the ssh connection stuck?)") from None
        except FileNotFoundError:
            raise ShiftUserError("ssh not found on this machine: apt-get install openssh-client") from None

    def popen(self, command: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(self.argv(command), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, cwd=PROJECT if self.local else None)

    def python_cmd(self, module: str, *args: str) -> str:
        """The shell command that runs ``python -m module args`` in the shipped code on that host."""
        d = shlex.quote(self.workdir)
        return f"cd {d} && PYTHONPATH={d} PYTHONDONTWRITEBYTECODE=1 exec {shlex.quote(self.python)} -m {module} " \
               + " ".join(shlex.quote(a) for a in args)

    def check_reachable(self) -> None:
        """:raises ShiftUserError: ssh cannot log in (one line with ssh's own reason)."""
        if self.local:
            return
        r = self.run("true", timeout_s=90)
        if r.returncode != 0:
            why = (r.stderr.decode(errors="replace").strip().splitlines() or [f"ssh exit status {r.returncode}"])[-1]
            raise ShiftUserError(f"{self.role} {self.dest!r} is unreachable over ssh ({why}): check "
                                 f"backends.nic.{self.role} and that `ssh -o BatchMode=yes {self.dest} true` logs in "
                                 "with your keys")

    def ship(self) -> str:
        """Copy the agent's code (and the built libshift.so) to the host once; returns the directory there."""
        if self.local:
            self.workdir = str(PROJECT)
            return self.workdir
        blob, digest = bundle()
        script = (f'd="${{XDG_CACHE_HOME:-$HOME/.cache}}/shift-realverbs/{digest}"; '
                  'if [ -f "$d/.complete" ]; then cat > /dev/null; '
                  'else rm -rf "$d" && mkdir -p "$d" && tar -xzf - -C "$d" && touch "$d/.complete"; fi && echo "$d"')
        r = self.run(script, timeout_s=300, stdin=blob)
        if r.returncode != 0:
            raise ShiftUserError(f"{self.role} {self.dest}: cannot copy the agent there "
                                 f"({r.stderr.decode(errors='replace').strip()[-200:]}): is $HOME writable?")
        self.workdir = r.stdout.decode().strip().splitlines()[-1]
        return self.workdir

    def libshift(self) -> str:
        """Path of the shipped libshift.so on that host, or ``""`` when none was built here."""
        return str(Path(self.workdir) / LIBSHIFT) if (PROJECT / LIBSHIFT).is_file() else ""

    def close(self) -> None:
        """End the shared ssh connection."""
        if not self.local:
            subprocess.run([*self.ssh_argv()[:-1], "-O", "exit", self.dest], capture_output=True, check=False,
                           timeout=30)


def bundle() -> tuple[bytes, str]:
    """A gzipped tar of the shipped files (Python sources, libshift.so) and its content hash."""
    files = sorted(p for top in SHIPPED for p in (PROJECT / top).rglob("*.py") if "__pycache__" not in p.parts)
    if (PROJECT / LIBSHIFT).is_file():
        files.append(PROJECT / LIBSHIFT)
    h = hashlib.sha256()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for f in files:
            rel = f.relative_to(PROJECT)
            data = f.read_bytes()
            h.update(str(rel).encode() + b"\0" + data)
            info = tarfile.TarInfo(str(rel))
            info.size = len(data)
            info.mode = 0o755 if f.suffix == ".so" else 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue(), h.hexdigest()[:16]
