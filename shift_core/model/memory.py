"""Responder memory: an immutable, hashable map from address to value (Rocq ``Core/Memory.v``).

Rocq models ``Memory = nat -> nat`` with default 0 and unbounded naturals. We keep the same semantics by
default (Python ints, no wrap-around) and offer an optional ``wrap_bits`` mode (e.g. 64) that reduces every
stored value modulo ``2**wrap_bits``, as RDMA atomics do on hardware. Rocq has no such mode: say so when you
use it.

Our extension (not mechanized in Rocq): the receive queue ``rq`` of posted RECV WQEs, each the address of the
buffer it points to, so two-sided SEND/RECV can be modelled (the appendix's ``(M, Q_R)`` state).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

DEFAULT_VAL = 0  #: Rocq ``default_val``


@dataclass(frozen=True, slots=True)
class Memory:
    """Rocq ``Memory`` (+ our receive queue). Cells holding ``DEFAULT_VAL`` are not stored.

    :param cells: sorted ``(addr, val)`` pairs with ``val != 0``.
    :param rq: buffer addresses of posted receive WQEs, head first (our extension).
    :param wrap_bits: ``None`` (Rocq: naturals) or the word width for modular arithmetic.
    """

    cells: tuple[tuple[int, int], ...] = ()
    rq: tuple[int, ...] = ()
    wrap_bits: int | None = field(default=None)

    @staticmethod
    def of(values: Mapping[int, int] | Iterable[tuple[int, int]] = (), rq: Iterable[int] = (),
           wrap_bits: int | None = None) -> Memory:
        """Build a memory from a mapping or pairs (Rocq ``init_memory`` when empty)."""
        items = dict(values.items() if isinstance(values, Mapping) else values)
        m = Memory((), tuple(rq), wrap_bits)
        for a, v in items.items():
            m = m.write(a, v)
        return m

    def _norm(self, v: int) -> int:
        if self.wrap_bits is not None:
            return v % (1 << self.wrap_bits)
        if v < 0:
            raise ValueError(f"value {v} is negative; Rocq memory holds naturals (use wrap_bits for words)")
        return v

    def read(self, addr: int) -> int:
        """Rocq ``mem_read``."""
        for a, v in self.cells:
            if a == addr:
                return v
        return DEFAULT_VAL

    def write(self, addr: int, val: int) -> Memory:
        """Rocq ``mem_write``: a new memory equal to this one except at ``addr``."""
        val = self._norm(val)
        kept = [(a, v) for a, v in self.cells if a != addr]
        if val != DEFAULT_VAL:
            kept.append((addr, val))
        return Memory(tuple(sorted(kept)), self.rq, self.wrap_bits)

    def post_recv(self, buf: int) -> Memory:
        """Append a receive WQE pointing at ``buf`` (our extension)."""
        return Memory(self.cells, (*self.rq, buf), self.wrap_bits)

    def pop_recv(self) -> tuple[Memory, int | None]:
        """Consume the head receive WQE; ``None`` when the queue is empty (RNR)."""
        if not self.rq:
            return self, None
        return Memory(self.cells, self.rq[1:], self.wrap_bits), self.rq[0]

    def as_dict(self) -> dict[int, int]:
        """The non-default cells as a plain dict."""
        return dict(self.cells)

    def to_json(self) -> dict[str, object]:
        return {"cells": {str(a): v for a, v in self.cells}, "rq": list(self.rq)}


INIT_MEMORY = Memory()  #: Rocq ``init_memory``
