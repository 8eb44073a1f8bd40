"""pyverbs ``PD`` (``ibv_alloc_pd``) and ``MR`` (``ibv_reg_mr``), with the MR registry the tracer reads."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shift_core.errors import ShiftUserError
from shift_core.verbs.pyverbs_api import pyverbs, rdma_error

if TYPE_CHECKING:
    from shift_core.verbs.backend import VerbsBackend
    from shift_core.verbs.context import VerbsContext


class VerbsPD:
    """A protection domain on ``ctx``."""

    def __init__(self, ctx: VerbsContext) -> None:
        pv = pyverbs()
        self.context = ctx
        self.backend: VerbsBackend = ctx.backend
        self.mrs: list[VerbsMR] = []
        try:
            self._pd: Any = pv.pd.PD(ctx._ctx)
        except pv.pyverbs_error.PyverbsError as exc:
            raise rdma_error(f"Failed to allocate PD on {ctx.name}", exc) from None

    def close(self) -> None:
        for mr in list(self.mrs):
            mr.close()
        if self._pd is not None:
            self._pd.close()
            self._pd = None

    def __enter__(self) -> VerbsPD:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class VerbsMR:
    """A registered buffer. ``address`` registers existing memory (e.g. an MR of another device of the same
    host: SHIFT's shadow registration on the backup NIC), as pyverbs' ``MR(pd, length, access, address=...)``."""

    def __init__(self, pd: VerbsPD, length: int, access: int, address: int | None = None) -> None:
        pv = pyverbs()
        if length <= 0:
            raise ShiftUserError(f"MR length must be positive, got {length}: pass the buffer size in bytes")
        self.pd = pd
        try:
            self._mr: Any = pv.mr.MR(pd._pd, length, int(access), address=address)
        except pv.pyverbs_error.PyverbsError as exc:
            raise rdma_error(f"Failed to register MR of {length} bytes on {pd.context.name}", exc) from None
        self.buf: int = int(self._mr.buf)
        self.length = length
        self.lkey: int = int(self._mr.lkey)
        self.rkey: int = int(self._mr.rkey)
        pd.mrs.append(self)
        pd.backend._mrs[(id(pd.context), self.lkey)] = self

    def write(self, data: bytes, length: int, offset: int = 0) -> None:
        if offset < 0 or offset + length > self.length or length > len(data):
            raise ShiftUserError(f"MR write of {length} bytes at offset {offset} is outside the {self.length}-byte "
                                 "MR (or longer than the data): check offset and length")
        self._mr.write(data, length, offset)

    def read(self, length: int, offset: int = 0) -> bytes:
        if offset < 0 or offset + length > self.length:
            raise ShiftUserError(f"MR read of {length} bytes at offset {offset} is outside the {self.length}-byte "
                                 "MR: check offset and length")
        return bytes(self._mr.read(length, offset))

    def close(self) -> None:
        if self._mr is not None:
            self.pd.backend._mrs.pop((id(self.pd.context), self.lkey), None)
            if self in self.pd.mrs:
                self.pd.mrs.remove(self)
            self._mr.close()
            self._mr = None

    def __enter__(self) -> VerbsMR:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
