"""The discrete-event core of the emulator (after SimPy's ``Environment``; no verbs counterpart).

A heap of ``(time_ns, priority, seq, callback)`` with integer nanoseconds: ``seq`` (an ``itertools.count``)
breaks ties first-in first-out, so a run with the same inputs and seed is the same run. Scheduling entries
are callbacks, not generator processes: the RC transport is a set of state machines reacting to packet
arrivals and timer expiries, and a plain callback costs a fraction of a SimPy event, which is what lets the
emulator stream millions of work requests per wall second.

Faults are scheduled at :data:`URGENT` priority so that a link going down at ``t`` takes effect before any
packet delivered at the same ``t``.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import Any

URGENT = 0  #: faults and state changes: before packet deliveries at the same instant
NORMAL = 1  #: packet deliveries, timers


class EmptySchedule(Exception):
    """Raised by :meth:`Environment.step` when nothing is scheduled."""


class Timer:
    """A cancellable scheduled callback (a retransmission or RNR timer). Cancelling is O(1): the heap
    entry stays and is skipped when popped."""

    __slots__ = ("args", "callback", "cancelled", "when")

    def __init__(self, when: int, callback: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.when = when
        self.callback = callback
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True

    def fire(self) -> None:
        if not self.cancelled:
            self.callback(*self.args)


class Environment:
    """Virtual time in integer nanoseconds and the schedule of what happens next."""

    def __init__(self, initial_time_ns: int = 0) -> None:
        self._now = initial_time_ns
        self._queue: list[tuple[int, int, int, Callable[..., Any], tuple[Any, ...]]] = []
        self._seq = itertools.count()
        #: True while a scheduled callback runs: other entries due at ``now`` may still be pending then
        self.dispatching = False

    @property
    def now(self) -> int:
        """The current virtual time (ns)."""
        return self._now

    def schedule(self, delay_ns: int, callback: Callable[..., Any], *args: Any, priority: int = NORMAL) -> None:
        """Run ``callback(*args)`` ``delay_ns`` from now (``delay_ns`` >= 0)."""
        if delay_ns < 0:
            raise ValueError(f"negative delay {delay_ns} ns")
        heapq.heappush(self._queue, (self._now + delay_ns, priority, next(self._seq), callback, args))

    def schedule_at(self, when_ns: int, callback: Callable[..., Any], *args: Any, priority: int = NORMAL) -> None:
        """Run ``callback(*args)`` at absolute time ``when_ns`` (not in the past)."""
        self.schedule(when_ns - self._now, callback, *args, priority=priority)

    def timer(self, delay_ns: int, callback: Callable[..., Any], *args: Any) -> Timer:
        """A cancellable :class:`Timer` that fires ``delay_ns`` from now."""
        t = Timer(self._now + delay_ns, callback, args)
        self.schedule(delay_ns, t.fire)
        return t

    def peek(self) -> int | None:
        """The time of the next scheduled entry, or ``None`` when the schedule is empty."""
        return self._queue[0][0] if self._queue else None

    def step(self) -> None:
        """Process the next entry (raises :class:`EmptySchedule` when there is none)."""
        try:
            when, _prio, _seq, callback, args = heapq.heappop(self._queue)
        except IndexError:
            raise EmptySchedule() from None
        self._now = when
        self.dispatching = True
        try:
            callback(*args)
        finally:
            self.dispatching = False

    def run(self, until_ns: int | None = None) -> None:
        """Process entries up to and including ``until_ns`` (or until the schedule empties); the clock then
        reads ``until_ns``."""
        q = self._queue
        pop = heapq.heappop
        if until_ns is not None and until_ns < self._now:
            raise ValueError(f"until={until_ns} ns lies in the past (now={self._now} ns)")
        self.dispatching = True
        try:
            if until_ns is None:
                while q:
                    when, _p, _s, callback, args = pop(q)
                    self._now = when
                    callback(*args)
                return
            while q and q[0][0] <= until_ns:
                when, _p, _s, callback, args = pop(q)
                self._now = when
                callback(*args)
        finally:
            self.dispatching = False
        self._now = until_ns
