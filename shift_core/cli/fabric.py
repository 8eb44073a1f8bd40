"""``shift fabric pingpong|bw|run``: the emulated RDMA fabric from the command line.

``pingpong`` and ``bw`` are the sim analogues of ``ibv_rc_pingpong`` and ``ib_write_bw`` on a 2-host x 2-NIC
fabric (latency and bandwidth in virtual time, plus how fast the emulator ran). ``run`` streams WRITEs under
a fault schedule (YAML/JSON) and reports the completions and the model's verdict on the trace.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from shift_core.errors import ShiftUserError
from shift_core.vocabulary import OUTCOMES

JUDGE_LIMIT = 20_000  #: trace events the CLI hands to the (quadratic) causal automaton


def _print(result: dict[str, Any], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for k, v in result.items():
        text = str(v) if isinstance(v, bool) else f"{v:,.3f}" if isinstance(v, float) else (
            f"{v:,}" if isinstance(v, int) else str(v))
        table.add_row(k, text)
    Console().print(table)


def _out(result: dict[str, Any], out: Path | None) -> None:
    if out is not None:
        from shift_core.results import write_json_atomic
        write_json_atomic(out, result)


def register(group: click.Group) -> None:
    """Add the ``fabric`` command group to ``shift``."""

    @group.group(name="fabric")
    def fabric() -> None:
        """The embedded software RDMA fabric (the 'sim' backend)."""

    @fabric.command()
    @click.option("--size", default=64, show_default=True, type=click.IntRange(8, 1 << 20), help="message bytes")
    @click.option("--iters", default=1000, show_default=True, type=click.IntRange(1), help="round trips")
    @click.option("--seed", default=0, show_default=True, type=int)
    @click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="write the result as JSON")
    def pingpong(size: int, iters: int, seed: int, out: Path | None) -> None:
        """SEND/RECV ping-pong between h0.nic0 and h1.nic0 (like ibv_rc_pingpong)."""
        from shift_core.fabric import make_fabric
        from shift_core.fabric.demo import connect_pair
        from shift_core.fabric.demo import pingpong as run

        b = make_fabric(seed=seed)
        a, z = connect_pair(b, "h0.nic0", "h1.nic0", size)
        result = run(b, a, z, iters, size)
        _print(result, f"sim ping-pong, {size} B, h0.nic0 <-> h1.nic0")
        _out(result, out)

    @fabric.command()
    @click.option("--size", default=65536, show_default=True, type=click.IntRange(1, 1 << 24), help="WRITE bytes")
    @click.option("--iters", default=100_000, show_default=True, type=click.IntRange(1), help="WRs to complete")
    @click.option("--depth", default=512, show_default=True, type=click.IntRange(1), help="WRs in flight")
    @click.option("--gbps", default=100.0, show_default=True, type=click.FloatRange(0.001), help="link rate")
    @click.option("--seed", default=0, show_default=True, type=int)
    @click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="write the result as JSON")
    def bw(size: int, iters: int, depth: int, gbps: float, seed: int, out: Path | None) -> None:
        """RDMA WRITE bandwidth h0.nic1 -> h1.nic1 (like ib_write_bw)."""
        from shift_core.fabric import make_fabric
        from shift_core.fabric.demo import bandwidth, connect_pair

        b = make_fabric(seed=seed, gbps=gbps)
        a, z = connect_pair(b, "h0.nic1", "h1.nic1", size)
        result = bandwidth(b, a, z, size, iters, depth=max(depth, 64))
        _print(result, f"sim RDMA WRITE bandwidth, {size} B, {gbps:g} Gb/s links")
        _out(result, out)

    @fabric.command(name="run")
    @click.option("--schedule", "schedule", required=True,
                  type=click.Path(dir_okay=False, path_type=Path),
                  help="fault schedule (YAML or JSON); one with a run section replays that SHIFT run")
    @click.option("--wrs", default=1000, show_default=True, type=click.IntRange(1), help="WRITEs to post")
    @click.option("--size", default=4096, show_default=True, type=click.IntRange(8, 1 << 20))
    @click.option("--timeout", "timeout", default=14, show_default=True, type=click.IntRange(0, 31),
                  help="QP local ACK timeout exponent (4.096 us x 2^timeout)")
    @click.option("--retry-cnt", default=6, show_default=True, type=click.IntRange(0, 7))
    @click.option("--seed", default=0, show_default=True, type=int)
    @click.option("--trace-out", type=click.Path(dir_okay=False, path_type=Path),
                  help="write the model trace as JSON lines")
    @click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
                  help="run-section schedules: write the verdict as JSON")
    @click.option("--expect", type=click.Choice(OUTCOMES),
                  help="run-section schedules: exit 1 unless the run's outcome is this one")
    def run_cmd(schedule: Path, wrs: int, size: int, timeout: int, retry_cnt: int, seed: int,
                trace_out: Path | None, out: Path | None, expect: str | None) -> int:
        """Stream WRITEs h0.nic0 -> h1.nic0 under a fault schedule; judge the trace with the model.

        A schedule with a ``run:`` section (what ``shift explore`` prints for a violation) replays that SHIFT
        failover run instead (its workload, strategy, bound and seed; --wrs/--size/--timeout/--retry-cnt/--seed
        are then ignored) and prints the judge's verdict.
        """
        from collections import Counter

        from shift_core.explore.schedule import has_run_section

        if has_run_section(schedule):
            return _replay_run(schedule, out, expect)
        if out is not None or expect is not None:
            raise ShiftUserError("--out and --expect need a schedule with a run section (see shift explore)")

        from shift_core.backend.attrs import SGE, SendWR
        from shift_core.backend.enums import ibv_wr_opcode
        from shift_core.fabric import make_fabric
        from shift_core.fabric.demo import SIGNALED, connect_pair
        from shift_core.model.causal import first_violation

        b = make_fabric(seed=seed, schedule=schedule)
        a, z = connect_pair(b, "h0.nic0", "h1.nic0", size, timeout=timeout, retry_cnt=retry_cnt)
        depth = 256
        statuses: Counter[str] = Counter()
        posted = done = 0
        env = b.fabric.env
        while done < wrs:
            while posted < wrs and posted - done < depth:
                a.qp.post_send(SendWR(wr_id=posted, opcode=ibv_wr_opcode.IBV_WR_RDMA_WRITE,
                                      sg_list=[SGE(a.mr.buf, size, a.mr.lkey)], remote_addr=z.mr.buf,
                                      rkey=z.mr.rkey, send_flags=SIGNALED))
                posted += 1
            for wc in a.cq.poll(depth)[1]:
                statuses[wc.status.name.removeprefix("IBV_WC_")] += 1
                done += 1
            nxt = env.peek()
            if nxt is not None:
                env.run(nxt)
            elif posted >= wrs and not a.cq._wcs:
                break  # nothing in flight and nothing left to post
        trace = b.recorder.trace
        # the model's causal automaton costs O(#ops) per event: judge what it can judge in seconds
        bad = first_violation(trace) if len(trace) <= JUDGE_LIMIT else None
        verdict: bool | str = bad is None if len(trace) <= JUDGE_LIMIT else f"not judged (> {JUDGE_LIMIT:,} events)"
        result: dict[str, Any] = {"wrs": wrs, "virtual_ns": b.now_ns(), "trace_events": len(trace),
                                  "causal": verdict, **{f"wc {k}": v for k, v in sorted(statuses.items())}}
        if bad is not None:
            result["first_violation"] = f"event {bad[0]}: {bad[1]!r}"
        _print(result, f"sim run under {schedule.name}")
        if trace_out is not None:
            from shift_core.results import write_text_atomic
            lines = [json.dumps({"kind": type(e).__name__, "t_ns": e.t_ns, "repr": repr(e)}) for e in trace]
            write_text_atomic(trace_out, "\n".join(lines) + "\n")
        if bad is not None:
            raise ShiftUserError(f"the emulator produced a trace the model rejects at event {bad[0]}")
        return 0


def _replay_run(schedule: Path, out: Path | None, expect: str | None) -> int:
    """Replay a SHIFT run from a run-section schedule and print its verdict and every machine step."""
    from rich.console import Console

    from shift_core.explore.runner import execute
    from shift_core.explore.schedule import load_replay

    s = load_replay(schedule)
    o = execute(s)
    v = o.verdict
    result: dict[str, Any] = {"workload": s.run.workload, "strategy": s.run.strategy, "outcome": v.outcome,
                              "end_state": o.end_state, "reasons": list(v.reasons), "unfired": o.unfired,
                              "steps": [list(x) for x in o.steps], "notes": o.notes,
                              "schedule": s.to_json()}
    console = Console()
    console.print(f"replayed {schedule.name}: {s.run.workload} x {s.run.strategy}, {len(s.faults)} fault(s) -> "
                  f"[bold]{v.outcome}[/] (end state {o.end_state})", highlight=False)
    for r in v.reasons:
        console.print(f"  because: {r}", highlight=False)
    for host, queue, a, e, b in o.steps:
        console.print(f"  {host}.{queue}: {a} --{e}--> {b}", highlight=False)
    for n in o.notes:
        console.print(f"  note {n}", highlight=False)
    if o.unfired:
        console.print(f"  [magenta]faults whose point never came: {o.unfired}[/]", highlight=False)
    _out(result, out)
    if expect is not None and v.outcome != expect:
        console.print(f"[bold red]expected {expect}, got {v.outcome}[/]")
        return 1
    return 0
