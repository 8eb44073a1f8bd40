"""From a census to placements: every way to strike one fault at one injectable point of a run.

A *point* is an instant of the run: just before request message ``m`` leaves, just before response ``r`` leaves,
or the moment a host's machine enters a state (``t``). A *placement* is a fault kind at a point; its fault
entries (:mod:`shift_core.fabric.faults`) go into the run's schedule.

First faults (the single-fault exploration; the census is the fault-free run):

* ``drop``: lose that message (each of its packets in turn) or that response, once;
* ``link_down@<nic>`` / ``nic_fatal@<nic>``: a default NIC (``h0.nic0`` of host A, ``h1.nic0`` of host B) loses its
  link for good / dies, at the instant of each message and each response;
* ``flap@<nic>``: the link goes down there and comes back the moment the first host's send queue enters
  ``fallback`` (a flap exactly as short as the layer's reaction; only for strategies that switch back, since for
  the others it is the same run as ``link_down``).

Second faults (the pair exploration; the census is the first fault's own run, and only its points from the first
fault on): ``drop`` of each later message (handshake, probe, fence, notification, rewound WRs...) and response,
and at every later instant (messages, responses, machine states entered): ``nic_fatal@<backup nic>`` (the backup
NIC dies: during failover, rewind, fence...), ``link_down@<default nic>`` (the default path fails again: a flap
faster than the probe period when it strikes before the switch-back completes), ``kv_down`` (the KV store is
gone for good) and ``kv_slow`` (unreachable for :data:`KV_SLOW_NS`: a store that answers too late).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shift_core.explore.runner import HOSTS, RunOutcome

DEFAULT_NICS: tuple[str, ...] = tuple(dev[0] for dev in HOSTS.values())
BACKUP_NICS: tuple[str, ...] = tuple(dev[1] for dev in HOSTS.values())
KV_SLOW_NS = 50_000  #: how long a "slow" KV store stays unreachable (ns)

#: the first-fault kinds that move traffic to the backup NIC (pairs start from these)
FAILOVER_KINDS: tuple[str, ...] = ("link_down", "nic_fatal", "flap")


@dataclass(frozen=True, slots=True)
class Point:
    """One instant of a run where a fault can strike."""

    key: str                 #: ``m17`` (message), ``r9`` (response), ``t:A.sq.fallback#1`` (state entered)
    seq: int                 #: position on the run's time line (:attr:`shift_core.fabric.taps.Taps.seq`)
    label: str               #: what is there (``A.backup.handshake``, ``ack of A.default.app``, ``A.sq -> fallback``)
    when: dict[str, Any]     #: the schedule trigger
    npkts: int = 0           #: packets of a message (0 for responses and states)


@dataclass(frozen=True, slots=True)
class Placement:
    """One fault kind at one point, as the schedule entries that make it happen."""

    kind: str                #: ``drop``, ``link_down@h1.nic0``, ``flap@h0.nic0``, ``kv_slow``...
    point: Point
    faults: tuple[dict[str, Any], ...]

    @property
    def name(self) -> str:
        """``<kind>:<point>``, e.g. ``link_down@h1.nic0:m7``, ``drop:r3``, ``kv_slow:t:A.sq.fallback#1``."""
        return f"{self.kind}:{self.point.key}"


def points(o: RunOutcome, after_seq: int = 0, states: bool = False) -> list[Point]:
    """The instants of run ``o`` (its census) from ``after_seq`` on, in time order; ``states``: include the
    machine states entered."""
    out = [Point(f"m{m.index}", m.seq, m.label + ("" if m.attempt == 1 else f" (copy {m.attempt})"),
                 {"message": m.index}, m.npkts) for m in o.messages if m.seq >= after_seq]
    out += [Point(f"r{r.index}", r.seq, f"{r.kind} of {r.label}", {"response": r.index})
            for r in o.responses if r.seq >= after_seq]
    if states:
        out += [Point(f"t:{e.host}.{e.queue}.{e.to}#{e.nth}", e.seq, f"{e.host}.{e.queue} -> {e.to} ({e.event})",
                      {"transition": {"host": e.host, "queue": e.queue, "to": e.to, "nth": e.nth}})
                for e in o.entries if e.seq >= after_seq]
    return sorted(out, key=lambda p: p.seq)


def _drops(p: Point) -> list[Placement]:
    if "message" in p.when:
        return [Placement("drop" if p.npkts == 1 else f"drop_pkt{k}", p,
                          ({"kind": "drop_message", "when": p.when, "packet": k},)) for k in range(p.npkts)]
    if "response" in p.when:
        return [Placement("drop", p, ({"kind": "drop_response", "when": p.when},))]
    return []


def first_faults(census: RunOutcome, switch_back: bool) -> list[Placement]:
    """Every single-fault placement of a fault-free run (see the module docstring)."""
    out: list[Placement] = []
    for p in points(census):
        out += _drops(p)
        for nic in DEFAULT_NICS:
            out.append(Placement(f"link_down@{nic}", p, ({"kind": "link_down", "nic": nic, "when": p.when},)))
            out.append(Placement(f"nic_fatal@{nic}", p, ({"kind": "nic_fatal", "nic": nic, "when": p.when},)))
            if switch_back:
                up = {"transition": {"host": "any", "queue": "sq", "to": "fallback"}}
                out.append(Placement(f"flap@{nic}", p, ({"kind": "link_down", "nic": nic, "when": p.when},
                                                        {"kind": "link_up", "nic": nic, "when": up})))
    return out


def second_faults(run: RunOutcome, first: Placement) -> list[Placement]:
    """Every second-fault placement in the run of ``first`` from the moment it struck (module docstring)."""
    if run.first_fault is None:
        return []
    out: list[Placement] = []
    for p in points(run, after_seq=run.first_fault[0], states=True):
        out += _drops(p)
        for nic in BACKUP_NICS:
            out.append(Placement(f"nic_fatal@{nic}", p, ({"kind": "nic_fatal", "nic": nic, "when": p.when},)))
        for nic in DEFAULT_NICS:
            if first.kind in (f"link_down@{nic}", f"nic_fatal@{nic}"):
                continue  # that NIC is down for good already: the same run
            out.append(Placement(f"link_down@{nic}", p, ({"kind": "link_down", "nic": nic, "when": p.when},)))
        out.append(Placement("kv_down", p, ({"kind": "kv_down", "when": p.when},)))
        out.append(Placement("kv_slow", p, ({"kind": "kv_down", "when": p.when, "for_ns": KV_SLOW_NS},)))
    return out
