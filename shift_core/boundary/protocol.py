"""A communication protocol as a sender WR pattern plus a receiver consumption rule (paper Table 1 rows).

A :class:`BoundaryProtocol` owns a static WR table (every WR any run may post, by id), SHIFT's failover
:class:`~shift_core.boundary.transport.Policy`, an initial :class:`~shift_core.boundary.transport.State` and the
application moves of both ends (:meth:`app_moves`). The transport moves (execute, ACK, fault) come from
:mod:`shift_core.boundary.transport`; the search (:mod:`shift_core.boundary.search`) explores both.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from shift_core.boundary.transport import Move, Policy, State, WRSpec, nic_moves


@dataclass(frozen=True)
class BoundaryProtocol:
    """Base of every protocol model; subclasses fill the table and define the application moves.

    :param protocol: the vocabulary name (``BOUNDARY_PROTOCOLS``).
    :param variant: ``""`` for the main path, else the exception's name (check id ``boundary/<p>/<variant>``).
    :param steps: iterations (messages / chunks) per run; ``slots``: receive-buffer slots reused round-robin.
    """

    protocol: str
    variant: str = ""
    steps: int = 2
    slots: int = 1
    policy: Policy = field(default_factory=Policy)

    title: str = ""
    ops: str = ""

    @property
    def check_id(self) -> str:
        return f"boundary/{self.protocol}" + (f"/{self.variant}" if self.variant else "")

    def table(self) -> tuple[WRSpec, ...]:
        raise NotImplementedError

    def init(self) -> State:
        raise NotImplementedError

    def app_moves(self, s: State) -> Iterator[Move]:
        """The sender's and the receiver's application moves enabled in ``s``."""
        raise NotImplementedError

    def done(self, s: State) -> bool:
        """Every iteration was consumed (the liveness sanity target: failover completes)."""
        raise NotImplementedError

    def bound(self) -> dict[str, Any]:
        return {"steps": self.steps, "slots": self.slots, "faults": self.policy.max_faults,
                "restart": self.policy.restart, "atomic_guard": self.policy.atomic_guard}

    def successors(self, s: State, table: tuple[WRSpec, ...]) -> Iterator[Move]:
        yield from self.app_moves(s)
        yield from nic_moves(s, table, self.policy)
