"""libshift.so on real soft-RoCE, under unmodified programs: one part of the one-guest rxe suite.

In the guest (Debian python3, standard library only; guest_suite.py runs ``run_all``):

- ``perftest``: Fig 7 with perftest's own per-second report (``--run_infinitely -D 1``): ``ib_write_bw``,
  ``ib_send_bw`` and ``ib_read_bw`` between rxe_p0 (client) and rxe_p1 (server), both under
  ``LD_PRELOAD=libshift.so`` (backups rxe_b0 / rxe_b1) and without it (the control); the primary link goes down
  at 5 s and comes back at 10 s. Sites: ``sender_nic`` (``ip link set p0 down``: LOC_QP_OP_ERR at once, the
  control dies) for all three tools, and ``receiver_nic`` (``ip link set p1 down``) for ib_write_bw. perftest
  sets retry_cnt 7, which rxe retries forever, so at the receiver site the control stalls instead of dying
  (recorded as such); libshift sees the port go down and fails over either way.
- ``counted``: ``ib_write_bw`` and ``ib_send_bw -n N`` under libshift across the outage at the sender NIC:
  perftest's own accounting checks every WR (the client waits for N send completions, the ib_send_bw server
  for N receive completions); N is calibrated so the run spans the outage.
- ``pingpong``: ``ibv_rc_pingpong -c -e`` (buffer check; asleep in ``ibv_get_cq_event`` between completions)
  across the same outage, with and without libshift.
- ``dlvsym``: csrc/shift_pair_dl, which resolves every verb with dlopen + dlvsym like NCCL's ibvwrap, checks
  every message (SEND, NCCL-Simple WRITE+WRITE_WITH_IMM, READ) across the outage; and the control.
- ``interop``: one connection with libshift's C SHIFT on one end (csrc/shift_pair) and the Python SHIFT layer
  on pyverbs on the other (libshift_peer.py), both directions, sharing a ``dir://`` KV store: every message
  once, the counter handshake and the switch-back between the two implementations.

On the host, ``write_outputs`` turns the part's result into data/rxe/perftest_timeline.csv (+ .json with the
manifest and summary) for workflow/scripts/figures/fig7_rxe_libshift.py.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

PROJECT = Path(os.environ.get("SHIFT_PROJECT", "/project"))
CSRC = PROJECT / "csrc"
HERE = Path(__file__).resolve().parent
FAULT_AT, RECOVER_AT, RUN_S = 5.0, 10.0, 20.0  #: the switch-back needs a few TCG seconds after 10 s
SITES = {"sender_nic": ("ip link set p0 down", "ip link set p0 up && rxe-relink.sh"),
         "receiver_nic": ("ip link set p1 down", "ip link set p1 up && rxe-relink.sh")}
#: tool -> (op, fault sites it runs at)
PERFTESTS = {"ib_write_bw": ("write", ("sender_nic", "receiver_nic")), "ib_send_bw": ("send", ("sender_nic",)),
             "ib_read_bw": ("read", ("sender_nic",))}
PERFTEST_ARGS = ["-x", "1", "-F", "--report_gbits", "-s", "65536", "--run_infinitely", "-D", "1"]
#: -c: check every received buffer; -e: sleep in ibv_get_cq_event (the completion channel) between completions
PINGPONG_ARGS = ["-g", "1", "-s", "4096", "-c", "-e"]
PINGPONG_SITE = "sender_nic"  #: the client's link: its QP errors at once, so stock verbs die (the control)
PINGPONG_S = 16.0  #: what a pingpong run should last without a fault (calibrated: TCG's speed varies 10x)
STRATEGIES = ("shift", "none")  #: libshift preloaded / stock verbs (the control)
REPORT = re.compile(r"^\s*(\d+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)")  #: a stderr line may follow on the same line


LOGS = Path("/tmp/libshift-logs")  #: every program's full output (copied to OUTDIR/libshift-logs by run_all)


def keep(tag: str, text: str) -> None:
    LOGS.mkdir(exist_ok=True)
    (LOGS / f"{tag}.log").write_text(text)


def log(msg: str) -> None:
    print(f"[libshift {time.monotonic():9.3f}] {msg}", flush=True)


def sh(cmd: str) -> None:
    subprocess.run(cmd, shell=True, capture_output=True, timeout=60)


def shift_env(tag: str) -> dict[str, str]:
    """libshift for both ends: the default -> backup device map, a fresh KV directory, a transition trace."""
    kv = Path(f"/tmp/shift-kv-{tag}")
    shutil.rmtree(kv, ignore_errors=True)
    return {"LD_PRELOAD": str(CSRC / "libshift.so"), "SHIFT_BACKUP_DEVICE": "rxe_p0:rxe_b0,rxe_p1:rxe_b1",
            "SHIFT_BACKUP_GID_INDEX": "1", "SHIFT_KV_DIR": str(kv), "SHIFT_PROBE_MS": "100",
            "SHIFT_TRACE": f"/tmp/shift-trace-{tag}.jsonl", "SHIFT_LOG": os.environ.get("SHIFT_LIBSHIFT_LOG", "1")}


def read_trace(tag: str) -> list[dict[str, Any]]:
    p = Path(f"/tmp/shift-trace-{tag}.jsonl")
    return [json.loads(x) for x in p.read_text().splitlines()] if p.exists() else []


def transitions(trace: list[dict[str, Any]], t0: float) -> list[dict[str, Any]]:
    return [{"t_s": round(t["t"] - t0, 3), "qpn": t["qpn"], "queue": t["queue"], "from": t["from"],
             "event": t["event"], "to": t["to"]} for t in trace if "queue" in t]


def in_fault_window(t0: float, site: str, state: dict[str, float]) -> None:
    """Inject the site's fault at FAULT_AT and repair it at RECOVER_AT (times from t0)."""
    now = time.time() - t0
    if "fault" not in state and now >= FAULT_AT:
        state["fault"] = time.time() - t0
        sh(SITES[site][0])
    if "recover" not in state and now >= RECOVER_AT:
        state["recover"] = time.time() - t0
        sh(SITES[site][1])


# -- Fig 7 with perftest ---------------------------------------------------------------------------------------
def read_lines(fd: int, out: list[tuple[float, str]]) -> None:
    """Collect (arrival time, line) from a pty until it closes."""
    buf = b""
    while True:
        try:
            r, _, _ = select.select([fd], [], [], 0.2)
            chunk = os.read(fd, 4096) if r else None
        except OSError:
            return
        if chunk == b"":
            return
        if chunk:
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                out.append((time.time(), line.decode(errors="replace").rstrip("\r")))


def run_perftest(tool: str, strategy: str, site: str) -> dict[str, Any]:
    """One perftest run across the outage: per-second samples from the client's own report."""
    tag = f"{tool}-{strategy}-{site}"
    env = {**os.environ, **(shift_env(tag) if strategy == "shift" else {})}
    srv = subprocess.Popen([tool, "-d", "rxe_p1", *PERFTEST_ARGS], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, env=env)
    time.sleep(1.0)
    master, slave = pty.openpty()  # a terminal: perftest's printf is line-buffered, each report arrives on time
    cli = subprocess.Popen([tool, "-d", "rxe_p0", *PERFTEST_ARGS, "127.0.0.1"], stdout=slave, stderr=slave, env=env,
                           close_fds=True)
    os.close(slave)
    t0 = time.time()
    lines: list[tuple[float, str]] = []
    reader = threading.Thread(target=read_lines, args=(master, lines), daemon=True)
    reader.start()  # timestamps each line as it arrives, while this thread runs the (slow) fault commands
    state: dict[str, float] = {}
    died_at = None
    try:
        while time.time() - t0 < RUN_S + 1:
            in_fault_window(t0, site, state)
            if cli.poll() is not None:
                died_at = round(time.time() - t0, 3)
                break
            if time.time() - t0 >= RUN_S and "recover" in state:
                break
            time.sleep(0.05)
    finally:
        for p in (cli, srv):
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in (cli, srv):
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if "fault" in state and "recover" not in state:
            state["recover"] = time.time() - t0
            sh(SITES[site][1])
        state.setdefault("recover", RECOVER_AT)
        reader.join(timeout=2)
        os.close(master)
        time.sleep(1.0)  # the link and its routes settle before the next run
    srv_out = srv.stdout.read() if srv.stdout else ""
    res, text = perftest_result(tool, strategy, site, lines, t0, state, died_at, cli.returncode, srv_out,
                                read_trace(tag) if strategy == "shift" else [])
    keep(tag, text + "\n--- server ---\n" + srv_out)
    log(f"{tag}: survived={res['survived']} exit={died_at} on_backup={res['iters_on_backup']} iters "
        f"during={res['gbps_during_fault']} "
        f"after={res['gbps_after_recovery']} failed_over={res['failed_over']} switched_back={res['switched_back']}")
    return res


def perftest_result(tool: str, strategy: str, site: str, lines: list[tuple[float, str]], t0: float,
                    state: dict[str, float], died_at: float | None, client_rc: int | None, srv_out: str,
                    trace: list[dict[str, Any]]) -> tuple[dict[str, Any], str]:
    """One run's result from what it left: the client's timestamped lines, the fault times, libshift's trace
    (also what the host-side tests feed it: the result's shape comes from here, never from a hand-kept copy)."""
    samples: list[dict[str, Any]] = []
    text = []
    for t_abs, line in lines:
        t = t_abs - t0
        text.append(f"{t:7.3f} {line}")
        m = REPORT.match(line)
        if m:
            # perftest's per-interval line: bytes, iterations in the interval, peak, average, message rate. Under
            # TCG its cycle-counter calibration fails ("r^2 < 0.9") and the Gb/s columns read 0, so throughput is
            # its iteration count over the interval between its lines (timestamped on arrival by read_lines)
            start = samples[-1]["t_s"] if samples else t - 1.0
            dt = max(t - start, 0.2)
            samples.append({"t_s": round(t, 3), "from_s": round(start, 3), "iters": int(m.group(2)),
                            "gbps": round(int(m.group(1)) * int(m.group(2)) * 8 / dt / 1e9, 6),
                            "perftest_gbps": float(m.group(4))})
    state.setdefault("fault", FAULT_AT)  # the client died before the fault: nothing was injected then
    steps = transitions(trace, t0)
    after = [s for s in samples if s["t_s"] > state["recover"] + 1.5]
    during = [s for s in samples if state["fault"] + 1.5 < s["t_s"] <= state["recover"]]
    res = {"tool": tool, "op": PERFTESTS[tool][0], "strategy": strategy, "site": site, "fault_at_s": state["fault"],
           "recover_at_s": state["recover"], "client_exit_s": died_at, "client_rc": client_rc,
           "samples": samples, "transitions": steps, "output": "\n".join(text[-60:]), "server_output": srv_out[-3000:],
           "gbps_during_fault": round(sum(s["gbps"] for s in during) / len(during), 4) if during else 0.0,
           "gbps_after_recovery": round(sum(s["gbps"] for s in after) / len(after), 4) if after else 0.0}
    res.update(on_backup(samples, steps))
    # a stream that stalls after the repair (one report with traffic, then zeros) has not survived: its last
    # report, well after the repair, must still carry iterations
    last = samples[-1] if samples else None
    res["running_at_end"] = bool(last and last["iters"] > 0 and last["t_s"] > state["recover"] + 3.0)
    res["survived"] = died_at is None and res["gbps_after_recovery"] > 0 and res["running_at_end"]
    res["switched_back"] = any(t["event"] == "FENCE_DONE" and t["t_s"] > state["recover"] for t in steps)
    res["failed_over"] = any(t["event"] in ("ERROR_SAFE", "PEER_FALLBACK") for t in steps)
    return res, "\n".join(text)


def on_backup(samples: list[dict[str, Any]], steps: list[dict[str, Any]]) -> dict[str, Any]:
    """The traffic of the report intervals that lie wholly inside the span libshift's trace shows the send queue
    on the backup QP (from its failover to FENCE_DONE). Under TCG perftest's "1 s" intervals stretch to several
    seconds (its cycle-counter calibration fails), so a fixed window after the fault can hold no whole interval."""
    sq = [t for t in steps if t["queue"] == "sq"]
    start = next((t["t_s"] for t in sq if t["event"] in ("ERROR_SAFE", "PEER_FALLBACK")), None)
    if start is None:
        return {"backup_span_s": None, "iters_on_backup": 0, "gbps_on_backup": 0.0}
    end = next((t["t_s"] for t in sq if t["event"] == "FENCE_DONE" and t["t_s"] > start), float("inf"))
    inside = [s for s in samples if start <= s["from_s"] and s["t_s"] <= end]
    seconds = sum(s["t_s"] - s["from_s"] for s in inside)
    return {"backup_span_s": [start, None if end == float("inf") else end],
            "iters_on_backup": sum(s["iters"] for s in inside),
            "gbps_on_backup": round(sum(s["gbps"] * (s["t_s"] - s["from_s"]) for s in inside) / seconds, 4)
            if seconds > 0 else 0.0}


def part_perftest() -> dict[str, Any]:
    runs = [run_perftest(tool, strategy, site) for tool, (_, sites) in PERFTESTS.items() for site in sites
            for strategy in STRATEGIES]
    return {"status": "ok", "runs": runs}


# -- counted perftest: every WR of a fixed-length run completes across the outage --------------------------------
COUNTED_ARGS = ["-x", "1", "-F", "-s", "65536"]  #: -n N instead of --run_infinitely: perftest counts completions
COUNTED_S = 16.0  #: what a counted run should last without a fault (calibrated like the pingpong)
CALIBRATION_S = 3  #: the calibration run's perftest duration (-D)
COUNTED_TOOLS = ("ib_write_bw", "ib_send_bw")


Spawned = tuple[subprocess.Popen, int, list[tuple[float, str]], threading.Thread]


def spawn_pty(cmd: list[str], env: dict[str, str]) -> Spawned:
    """Start ``cmd`` on a terminal (its stdio is line-buffered: every line arrives when printed, none is lost
    in a buffer if it has to be killed), each line timestamped on arrival by a reader thread."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(cmd, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    lines: list[tuple[float, str]] = []
    reader = threading.Thread(target=read_lines, args=(master, lines), daemon=True)
    reader.start()
    return proc, master, lines, reader


def perftest_pair(tool: str, length: list[str], env: dict[str, str], site: str | None) -> dict[str, Any]:
    """One perftest run of the given length (``-n N`` or ``-D S``; server rxe_p1, client rxe_p0), the site's
    outage injected if given."""
    srv = spawn_pty([tool, "-d", "rxe_p1", *COUNTED_ARGS, *length], env)
    time.sleep(1.0)
    cli = spawn_pty([tool, "-d", "rxe_p0", *COUNTED_ARGS, *length, "127.0.0.1"], env)
    t0, state = time.time(), {}
    while (cli[0].poll() is None or srv[0].poll() is None) and time.time() - t0 < 150:
        if site:
            in_fault_window(t0, site, state)
        time.sleep(0.05)
    for proc, master, _, reader in (cli, srv):
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        reader.join(timeout=2)
        os.close(master)
    if site and "fault" in state and "recover" not in state:
        sh(SITES[site][1])
    done = {name: [int(m.group(2)) for m in (REPORT.match(line) for _, line in p[2]) if m]
            for name, p in (("client", cli), ("server", srv))}
    text = "\n".join(f"--- {name} ---\n" + "\n".join(f"{t - t0:7.3f} {line}" for t, line in p[2])
                     for name, p in (("client", cli), ("server", srv)))
    return {"t0": t0, "seconds": round(time.time() - t0, 2), "running_at_fault": "fault" in state,
            "fault_at_s": state.get("fault"), "recover_at_s": state.get("recover"), "client_rc": cli[0].returncode,
            "server_rc": srv[0].returncode, "client_iters": done["client"], "server_iters": done["server"],
            "output": text}


def counted(tool: str) -> dict[str, Any]:
    """perftest's own accounting as the message check: with ``-n N`` the client waits for N send completions and
    the ib_send_bw server for N receive completions (a lost message hangs the run, an error completion ends it),
    and each prints N in its report. Calibrated first (a fault-free ``-D`` run: perftest's own iteration count
    over its duration, set-up excluded) so the run spans the outage and the switch-back."""
    tag = f"{tool}-counted"
    env = {**os.environ, **shift_env(f"{tag}-calibration")}
    probe = perftest_pair(tool, ["-D", str(CALIBRATION_S)], env, None)
    rate = probe["client_iters"][0] / CALIBRATION_S if probe["client_iters"] else 100.0
    iters = min(200000, max(1000, int(COUNTED_S * rate)))
    env = {**os.environ, **shift_env(tag)}
    run = perftest_pair(tool, ["-n", str(iters)], env, "sender_nic")
    time.sleep(1.0)
    keep(tag, run.pop("output"))
    steps = transitions(read_trace(tag), run.pop("t0"))
    res = {"tool": tool, "op": PERFTESTS[tool][0], "strategy": "shift", "site": "sender_nic", "iters": iters,
           "calibration_iters_per_s": round(rate, 1), **run, "transitions": steps,
           "failed_over": any(t["event"] in ("ERROR_SAFE", "PEER_FALLBACK") for t in steps),
           "switched_back": any(t["event"] == "FENCE_DONE" for t in steps)}
    res["every_wr_completed"] = (res["client_rc"] == 0 and res["server_rc"] == 0 and res["client_iters"] == [iters]
                                 and (tool != "ib_send_bw" or res["server_iters"] == [iters]))
    log(f"{tag}: iters={iters} rc={res['client_rc']},{res['server_rc']} client={res['client_iters']} "
        f"server={res['server_iters']} failed_over={res['failed_over']} switched_back={res['switched_back']}")
    return res


def part_counted() -> dict[str, Any]:
    return {"status": "ok", "runs": [counted(tool) for tool in COUNTED_TOOLS]}


# -- ibv_rc_pingpong -------------------------------------------------------------------------------------------
DEVICES = {"primary": ("rxe_p0", "rxe_p1"), "backup": ("rxe_b0", "rxe_b1")}


def rxe_packets() -> dict[str, int | None]:
    """Packets each rxe device has received (its hw counter ``rcvd_pkts``; None where the kernel has none)."""
    out: dict[str, int | None] = {}
    for dev in (*DEVICES["primary"], *DEVICES["backup"]):
        p = Path(f"/sys/class/infiniband/{dev}/ports/1/hw_counters/rcvd_pkts")
        out[dev] = int(p.read_text()) if p.is_file() else None
    return out


def packets_between(a: dict[str, int | None], b: dict[str, int | None]) -> dict[str, int | None]:
    """Packets received per path (primary / backup devices) between two ``rxe_packets`` samples."""
    def delta(devs: tuple[str, ...]) -> int | None:
        d = [(a.get(x), b.get(x)) for x in devs]
        return None if any(x is None or y is None for x, y in d) else sum(y - x for x, y in d)  # type: ignore[operator]
    return {path: delta(devs) for path, devs in DEVICES.items()}


def pingpong(strategy: str, iters: int) -> dict[str, Any]:
    tag = f"pingpong-{strategy}"
    env = {**os.environ, **(shift_env(tag) if strategy == "shift" else {})}
    args = [*PINGPONG_ARGS, "-n", str(iters)]
    srv = subprocess.Popen(["ibv_rc_pingpong", "-d", "rxe_p1", *args], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, env=env)
    time.sleep(0.7)
    cli = subprocess.Popen(["ibv_rc_pingpong", "-d", "rxe_p0", *args, "127.0.0.1"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, env=env)
    t0, state = time.time(), {}
    first_exit = None
    pkts: dict[str, dict[str, int | None]] = {}  #: counters 1 s after the fault and just before the repair
    while (cli.poll() is None or srv.poll() is None) and time.time() - t0 < 150:
        now = time.time() - t0
        if "fault" in state and "from" not in pkts and now >= state["fault"] + 1.0:
            pkts["from"] = rxe_packets()
        if "from" in pkts and "to" not in pkts and now >= RECOVER_AT - 0.3:
            pkts["to"] = rxe_packets()
        in_fault_window(t0, PINGPONG_SITE, state)
        if first_exit is None and (cli.poll() is not None or srv.poll() is not None):
            first_exit = time.time()
        if first_exit is not None and time.time() - first_exit > 5 and "recover" in state:
            break  # one end died (its error ended the run): the other would wait for it forever
        time.sleep(0.05)
    running_at_fault = "fault" in state
    for p in (cli, srv):
        if p.poll() is None:
            p.kill()
        p.wait()
    if "fault" in state and "recover" not in state:
        sh(SITES[PINGPONG_SITE][1])
    time.sleep(1.0)
    out = (cli.stdout.read() if cli.stdout else "") + (srv.stdout.read() if srv.stdout else "")
    keep(tag, out)
    steps = transitions(read_trace(tag), t0) if strategy == "shift" else []
    m = re.findall(r"(\d+) iters in ([\d.]+) seconds", out)
    return {"strategy": strategy, "iters": iters, "client_rc": cli.returncode, "server_rc": srv.returncode,
            "seconds": round(time.time() - t0, 2), "running_at_fault": running_at_fault,
            "completed_iters": [int(x[0]) for x in m], "buffer_invalid": "invalid data" in out,
            "transitions": steps, "output": out[-2500:],
            "packets_during_fault": packets_between(pkts["from"], pkts["to"]) if "to" in pkts else None,
            "switched_back": any(t["event"] == "FENCE_DONE" for t in steps),
            "failed_over": any(t["event"] in ("ERROR_SAFE", "PEER_FALLBACK") for t in steps)}


def part_pingpong() -> dict[str, Any]:
    """Calibrate the iteration count on this guest first (0.5 to 7 ms per iteration under TCG), so each run
    spans the outage."""
    args = " ".join(PINGPONG_ARGS)
    probe = subprocess.run(f"ibv_rc_pingpong -d rxe_p1 {args} -n 1000 > /tmp/pp-srv.txt 2>&1 & sleep 0.7; "
                           f"ibv_rc_pingpong -d rxe_p0 {args} -n 1000 127.0.0.1; wait", shell=True,
                           capture_output=True, text=True, timeout=120)
    m = re.search(r"([\d.]+) usec/iter", probe.stdout)
    usec = float(m.group(1)) if m else 1000.0
    iters = min(30000, max(1500, int(PINGPONG_S * 1e6 / usec)))
    return {"status": "ok", "calibration_usec_per_iter": usec, "runs": [pingpong(s, iters) for s in STRATEGIES]}


# -- shift_pair: dlvsym-resolved program, and the C <-> Python pairing ------------------------------------------
def pair_run(program: str, workload: str, strategy: str) -> dict[str, Any]:
    tag = f"{program}-{workload}-{strategy}"
    env = {**os.environ, **(shift_env(tag) if strategy == "shift" else {})}
    down, up = SITES["sender_nic"]
    cmd = [str(CSRC / program), "--devs", "rxe_p0,rxe_p1", "--workload", workload, "--duration-s", "9",
           "--at-s", f"3:cmd:{down}", "--at-s", f"6:cmd:{up}", "--wait-s", "2", "--give-up-s", "60"]
    t0 = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    sh(up)  # the control dies before its own repair at 6 s: the link must not stay down for the next run
    keep(tag, proc.stdout + proc.stderr)
    hosts = [json.loads(x) for x in proc.stdout.splitlines() if x.startswith("{")]
    steps = transitions(read_trace(tag), t0) if strategy == "shift" else []
    time.sleep(1.0)
    return {"program": program, "workload": workload, "strategy": strategy, "rc": proc.returncode, "hosts": hosts,
            "transitions": steps, "resolved_to_libshift": "resolved to " + str(CSRC / "libshift.so") in proc.stderr,
            "stderr": proc.stderr[-2500:]}


def part_dlvsym() -> dict[str, Any]:
    runs = [pair_run("shift_pair_dl", w, "shift") for w in ("send", "nccl", "read")]
    runs.append(pair_run("shift_pair_dl", "send", "none"))
    return {"status": "ok", "runs": runs}


def interop(c_role: str) -> dict[str, Any]:
    """csrc/shift_pair (libshift) as host ``c_role``, libshift_peer.py (the Python layer) as the other host."""
    tag = f"interop-c{c_role}"
    ex = Path(f"/tmp/shift-exchange-{tag}")
    shutil.rmtree(ex, ignore_errors=True)
    ex.mkdir()
    env = {**os.environ, **shift_env(tag)}
    kv = env["SHIFT_KV_DIR"]
    down, up = SITES["sender_nic"]
    faults = ["--at-s", f"3:{down}", "--at-s", f"6:{up}"]
    c_cmd = [str(CSRC / "shift_pair"), "--role", c_role, "--exchange", str(ex), "--devs", "rxe_p0,rxe_p1",
             "--workload", "send", "--give-up-s", "90"]
    if c_role == "a":
        c_cmd += ["--duration-s", "9", "--at-s", f"3:cmd:{down}", "--at-s", f"6:cmd:{up}"]
    py_role = "b" if c_role == "a" else "a"
    py_cmd = [sys.executable, str(HERE / "libshift_peer.py"), "--role", py_role, "--exchange", str(ex), "--kv", kv,
              "--duration-s", "9", *(faults if py_role == "a" else [])]
    py_env = {k: v for k, v in os.environ.items() if not k.startswith("LD_PRELOAD")}
    t0 = time.time()
    c = subprocess.Popen(c_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    p = subprocess.Popen(py_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=py_env)
    outs = {}
    for name, proc in (("c", c), ("python", p)):
        try:
            outs[name] = proc.communicate(timeout=150)
        except subprocess.TimeoutExpired:
            proc.kill()
            outs[name] = proc.communicate()
    c_out, c_err = outs["c"]
    p_out, p_err = outs["python"]
    sh(up)
    keep(tag, f"--- C ---\n{c_out}{c_err}\n--- Python ---\n{p_out}{p_err}")
    time.sleep(1.0)
    hosts = [json.loads(x) for x in (c_out + p_out).splitlines() if x.startswith("{")]
    return {"c_role": c_role, "python_role": py_role, "c_rc": c.returncode, "python_rc": p.returncode,
            "hosts": hosts, "c_transitions": transitions(read_trace(tag), t0), "c_stderr": c_err[-2500:],
            "python_stderr": p_err[-2500:], "exchange": sorted(x.name for x in ex.iterdir())}


def part_interop() -> dict[str, Any]:
    return {"status": "ok", "runs": [interop("a"), interop("b")]}


PARTS = {"perftest": part_perftest, "counted": part_counted, "pingpong": part_pingpong, "dlvsym": part_dlvsym,
         "interop": part_interop}


def run_all(out: Path) -> dict[str, Any]:
    """Every sub-part; a crashing one is recorded and does not take the others down."""
    if not (CSRC / "libshift.so").is_file() or not (CSRC / "shift_pair_dl").is_file():
        return {"status": "skipped", "reason": f"{CSRC}/libshift.so or shift_pair_dl not built (make -C csrc)"}
    only = [x for x in os.environ.get("SHIFT_LIBSHIFT_PARTS", "").split(",") if x]
    res: dict[str, Any] = {"status": "ok", "fault_at_s": FAULT_AT, "recover_at_s": RECOVER_AT}
    for name, fn in PARTS.items():
        if only and name not in only:
            continue
        t = time.monotonic()
        try:
            res[name] = fn()
        except Exception as exc:  # a part's crash is a result
            import traceback

            res[name] = {"status": "error", "reason": f"{type(exc).__name__}: {exc}",
                         "traceback": traceback.format_exc()}
            res["status"] = "failed"
        res[name]["seconds"] = round(time.monotonic() - t, 1)
        log(f"{name}: {res[name].get('status')} in {res[name]['seconds']} s")
    for trace in Path("/tmp").glob("shift-trace-*.jsonl"):  # libshift's transitions and control steps, per run
        LOGS.mkdir(exist_ok=True)
        shutil.copy(trace, LOGS / trace.name)
    if LOGS.is_dir():
        shutil.copytree(LOGS, out / "libshift-logs", dirs_exist_ok=True)
    return res


# -- host side ---------------------------------------------------------------------------------------------------
#: one row per perftest report: the interval (from_s, t_s] and its throughput; the run's fault/repair times and
#: the span libshift's trace shows the client's send queue on the backup QP (empty for stock verbs)
TIMELINE_COLUMNS = ["backend", "tool", "op", "strategy", "site", "from_s", "t_s", "gbps", "path", "fault_at_s",
                    "recover_at_s", "backup_from_s", "backup_to_s"]


def path_at(run: dict[str, Any], t: float) -> str:
    """Where the client's traffic went at t: 'backup' between a failover and the switch-back, else 'default'
    ('dead' after the control's client exited)."""
    if run["strategy"] == "none":
        return "dead" if run["client_exit_s"] is not None and t >= run["client_exit_s"] else "default"
    where = "default"
    for step in run["transitions"]:
        if step["t_s"] > t or step["queue"] != "sq":
            continue
        if step["event"] in ("ERROR_SAFE", "PEER_FALLBACK", "DEFAULT_ERROR"):
            where = "backup"
        elif step["event"] == "FENCE_DONE":
            where = "default"
    return where


def timeline_rows(part: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for run in part.get("perftest", {}).get("runs", []):
        span = run.get("backup_span_s") or [None, None]
        for s in run["samples"]:
            rows.append({"backend": "rxe", "tool": run["tool"], "op": run["op"], "strategy": run["strategy"],
                         "site": run["site"], "from_s": s["from_s"], "t_s": s["t_s"], "gbps": s["gbps"],
                         "path": path_at(run, s["t_s"]), "fault_at_s": run["fault_at_s"],
                         "recover_at_s": run["recover_at_s"], "backup_from_s": span[0], "backup_to_s": span[1]})
    return rows


def summary(part: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for run in part.get("perftest", {}).get("runs", []):
        key = f"{run['tool']}_{run['site']}_{run['strategy']}"
        out[key] = {k: run[k] for k in ("survived", "running_at_end", "failed_over", "switched_back", "client_exit_s",
                                        "gbps_during_fault", "gbps_after_recovery", "iters_on_backup",
                                        "gbps_on_backup")}
    for run in part.get("counted", {}).get("runs", []):
        out[f"{run['tool']}_counted"] = {k: run[k] for k in ("iters", "every_wr_completed", "running_at_fault",
                                                             "failed_over", "switched_back", "seconds")}
    for run in part.get("pingpong", {}).get("runs", []):
        out[f"ibv_rc_pingpong_{run['strategy']}"] = {k: run[k] for k in ("client_rc", "server_rc", "seconds",
                                                                           "running_at_fault", "buffer_invalid",
                                                                           "failed_over", "switched_back")}
    return out


def write_outputs(part: dict[str, Any] | None, data_dir: Path) -> None:
    """data/rxe/perftest_timeline.csv + perftest_timeline.json ({manifest, summary}) from the part's result."""
    if not part:
        return
    import csv
    import io

    from shift_core.results import manifest, write_json_atomic, write_text_atomic

    ok = part.get("status") == "ok" and part.get("perftest", {}).get("status") == "ok"
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=TIMELINE_COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(timeline_rows(part))
    write_text_atomic(data_dir / "perftest_timeline.csv", buf.getvalue())
    m = manifest("rxe", {"fault_at_s": FAULT_AT, "recover_at_s": RECOVER_AT, "perftest_args": PERFTEST_ARGS},
                 status="ok" if ok else "failed", reason="" if ok else part.get("reason", "a sub-part failed"))
    write_json_atomic(data_dir / "perftest_timeline.json", {"manifest": m, "summary": summary(part)})
