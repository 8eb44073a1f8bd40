"""pyverbs ``Context`` (``ibv_open_device``) with non-blocking async events (``ibv_get_async_event``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shift_core.backend.attrs import AsyncEvent, PortAttr
from shift_core.backend.enums import ibv_event_type, ibv_mtu, ibv_port_state
from shift_core.verbs.eventfd import event_fds, new_event_fd, readable
from shift_core.verbs.pyverbs_api import pyverbs, rdma_error

if TYPE_CHECKING:
    from shift_core.verbs.backend import VerbsBackend

_PORT_EVENTS = {ibv_event_type.IBV_EVENT_PORT_ERR, ibv_event_type.IBV_EVENT_PORT_ACTIVE,
                ibv_event_type.IBV_EVENT_LID_CHANGE, ibv_event_type.IBV_EVENT_PKEY_CHANGE,
                ibv_event_type.IBV_EVENT_GID_CHANGE, ibv_event_type.IBV_EVENT_SM_CHANGE,
                ibv_event_type.IBV_EVENT_CLIENT_REREGISTER}


class VerbsContext:
    """An opened RDMA device. ``backend`` is bound by :class:`~shift_core.verbs.backend.VerbsBackend`."""

    backend: VerbsBackend

    def __init__(self, name: str) -> None:
        pv = pyverbs()
        before = event_fds()
        try:
            self._ctx: Any = pv.device.Context(name=name)
        except pv.pyverbs_error.PyverbsError as exc:
            raise rdma_error(f"Failed to open device {name}", exc) from None
        self._async_fd = new_event_fd(before)
        self.name = name

    def query_port(self, port_num: int = 1) -> PortAttr:
        a = self._ctx.query_port(port_num)
        return PortAttr(ibv_port_state(a.state), ibv_mtu(a.active_mtu), a.gid_tbl_len)

    def query_gid(self, port_num: int = 1, index: int = 0) -> str:
        return str(self._ctx.query_gid(port_num, index).gid)

    def get_async_event(self, timeout_s: float = 0.0) -> AsyncEvent | None:
        """The next async event (acknowledged), or ``None`` if none arrives within ``timeout_s``.

        pyverbs does not expose ``element``; port events report port 1 (rxe and most NICs have one port).
        """
        if not readable(self._async_fd, timeout_s):
            return None
        pv = pyverbs()
        try:
            raw = self._ctx.get_async_event()
        except pv.pyverbs_error.PyverbsError:
            return None  # raced with another reader: nothing pending after all
        kind = ibv_event_type(raw.event_type)
        raw.ack()
        return AsyncEvent(kind, 1 if kind in _PORT_EVENTS else 0, self.name)

    def close(self) -> None:
        """Close the device; pyverbs closes its QPs, MRs, CQs and PDs first."""
        if self._ctx is not None:
            self._ctx.close()
            self._ctx = None
            self.backend.forget_context(id(self))

    def __enter__(self) -> VerbsContext:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Context({self.name!r}, backend={self.backend.name!r})"
