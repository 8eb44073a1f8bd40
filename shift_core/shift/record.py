"""What the layer did during a run: every state transition, and the costs and times the matrix reports.

Lesson 9 of the house style: every step of the per-QP machine is appended here, so a run's transitions
can be checked against :mod:`shift_core.shift.machine` and rendered next to the model's trace.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Transition:
    """One step of a QP's send- or receive-queue machine."""

    t_ns: int
    qpn: int
    queue: str  #: "sq" or "rq"
    from_: str
    event: str
    to: str


@dataclass(slots=True)
class LayerRecord:
    """Counters and timestamps of one host's layer (summed over its QPs)."""

    transitions: list[Transition] = field(default_factory=list)
    first_error_ns: int | None = None          #: first error completion polled from the default path
    first_backup_ok_ns: int | None = None      #: first successful app completion on the backup path after it
    errors_surfaced: int = 0                   #: error completions handed to the app
    app_wrs: int = 0                           #: app send WRs posted
    extra_remote_ops: int = 0                  #: layer-issued remote ops (handshake, probe, log, replies...)
    resubmitted: int = 0                       #: app WRs re-posted on the backup QP
    skipped_by_counter: int = 0                #: outstanding sends the peer had already consumed
    fillers: int = 0                           #: zero-length SENDs consuming stale WQEs after a switch-back
    copies: int = 0                            #: CPU copies of payload (staging commits)
    copied_bytes: int = 0
    switch_backs: int = 0
    probes: int = 0
    probe_failures: int = 0                    #: probes whose reset/modify/post failed (retried next interval)
    notes: list[str] = field(default_factory=list)
    #: called with every transition as it happens (the systematic explorer strikes faults at machine states)
    listener: Callable[[Transition], None] | None = None

    def add(self, t: Transition) -> None:
        """Append one machine step (and tell the listener, if any, at that very moment)."""
        self.transitions.append(t)
        if self.listener is not None:
            self.listener(t)

    def to_json(self) -> dict[str, object]:
        return {
            "first_error_ns": self.first_error_ns, "first_backup_ok_ns": self.first_backup_ok_ns,
            "errors_surfaced": self.errors_surfaced, "app_wrs": self.app_wrs,
            "extra_remote_ops": self.extra_remote_ops, "resubmitted": self.resubmitted,
            "skipped_by_counter": self.skipped_by_counter, "fillers": self.fillers, "copies": self.copies,
            "copied_bytes": self.copied_bytes, "switch_backs": self.switch_backs, "probes": self.probes,
            "probe_failures": self.probe_failures,
            "transitions": [[t.t_ns, t.qpn, t.queue, t.from_, t.event, t.to] for t in self.transitions],
            "notes": list(self.notes),
        }
