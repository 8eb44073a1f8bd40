"""The backend interface the SHIFT layer codes against: pyverbs' object model, typed as Protocols.

A backend (``sim`` = :mod:`shift_core.fabric`, ``rxe``/``nic`` = :mod:`shift_core.verbs`) is one object that
carries the verbs classes, so the failover layer swaps backends by one import::

    b = get_backend("sim", ...)
    ctx = b.Context(name="h0.nic0")
    pd = b.PD(ctx)
    mr = b.MR(pd, 4096, access)
    cq = b.CQ(ctx, 256)
    qp = b.QP(pd, QPInitAttr(scq=cq, rcq=cq))

Creators come first; ``close()`` closes children before parents; every object is a context manager.
Time is the backend's: ``now_ns()`` and ``advance(ns)`` (the sim runs its event loop for ``ns`` of virtual
time; a real backend sleeps/polls). Every backend records a trace in the model's vocabulary
(:class:`TraceRecorder`), which is how the model judges any run.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from shift_core.backend.attrs import WC, AsyncEvent, PortAttr, QPAttr, QPInitAttr, RecvWR, SendWR
from shift_core.backend.enums import ibv_qp_state
from shift_core.model.events import Event, Trace


class TraceRecorder:
    """Collects model events with timestamps; the judge reads ``trace``."""

    def __init__(self) -> None:
        self._events: list[Event] = []

    def emit(self, ev: Event) -> None:
        self._events.append(ev)

    @property
    def trace(self) -> Trace:
        return tuple(self._events)

    def clear(self) -> None:
        self._events.clear()


@runtime_checkable
class Context(Protocol):
    """pyverbs ``Context``: an opened device."""

    name: str

    def query_port(self, port_num: int = 1) -> PortAttr: ...
    def query_gid(self, port_num: int = 1, index: int = 0) -> str: ...
    def get_async_event(self) -> AsyncEvent | None:
        """Non-blocking: the next async event (PORT_ERR, DEVICE_FATAL, ...) or ``None``."""
        ...
    def close(self) -> None: ...


@runtime_checkable
class PD(Protocol):
    """pyverbs ``PD``."""

    def close(self) -> None: ...


@runtime_checkable
class MR(Protocol):
    """pyverbs ``MR``: a registered buffer with real bytes."""

    buf: int
    length: int
    lkey: int
    rkey: int

    def write(self, data: bytes, length: int, offset: int = 0) -> None: ...
    def read(self, length: int, offset: int = 0) -> bytes: ...
    def close(self) -> None: ...


@runtime_checkable
class CompChannel(Protocol):
    """pyverbs ``CompChannel``: CQ event notification."""

    def get_cq_event(self) -> Any | None:
        """Non-blocking: the CQ that fired since it was armed with ``req_notify``, or ``None``."""
        ...
    def close(self) -> None: ...


@runtime_checkable
class CQ(Protocol):
    """pyverbs ``CQ``."""

    def poll(self, num_entries: int = 1) -> tuple[int, list[WC]]: ...
    def req_notify(self, solicited_only: bool = False) -> None: ...
    def ack_events(self, num_events: int) -> None: ...
    def close(self) -> None: ...


@runtime_checkable
class QP(Protocol):
    """pyverbs ``QP`` (RC)."""

    qp_num: int
    qp_state: ibv_qp_state

    def post_send(self, wr: SendWR | list[SendWR]) -> None: ...
    def post_recv(self, wr: RecvWR | list[RecvWR]) -> None: ...
    def modify(self, attr: QPAttr, attr_mask: int) -> None: ...
    def query(self, attr_mask: int = 0) -> tuple[QPAttr, QPInitAttr]: ...
    def to_init(self, attr: QPAttr) -> None: ...
    def to_rtr(self, attr: QPAttr) -> None: ...
    def to_rts(self, attr: QPAttr) -> None: ...
    def close(self) -> None: ...


@runtime_checkable
class Backend(Protocol):
    """One verbs implementation: its classes, its clock and its trace."""

    name: str  #: "sim", "rxe" or "nic"
    Context: Any
    PD: Any
    MR: Any
    CQ: Any
    CompChannel: Any
    QP: Any
    recorder: TraceRecorder

    def get_device_list(self) -> list[str]: ...
    def now_ns(self) -> int: ...
    def advance(self, ns: int) -> None: ...


__all__ = ["CQ", "MR", "PD", "QP", "Backend", "CompChannel", "Context", "RecvWR", "SendWR",
           "TraceRecorder"]
