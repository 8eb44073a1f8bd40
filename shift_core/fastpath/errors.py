"""Errors of the WR log, one class per C return code of ``csrc/shift_wrlog.h`` (``SHIFT_E_*``).

Both implementations (the compiled ring and :mod:`shift_core.fastpath.reference`) raise these, with the same
``code``, so the differential test compares them directly and callers catch one hierarchy.
"""

from __future__ import annotations

from shift_core.errors import ShiftError


class WRLogError(ShiftError):
    """Raised when a WR-log operation is refused; ``code`` is the C return value (``SHIFT_E_*``)."""

    code = 0


class RingOverflow(WRLogError):
    """Raised by ``post`` when ``capacity`` records are outstanding (SHIFT_E_OVERFLOW)."""

    code = -1


class NoSignaledRecord(WRLogError):
    """Raised by ``complete`` when no signaled record is outstanding (SHIFT_E_NO_SIGNALED)."""

    code = -2


class WrIdMismatch(WRLogError):
    """Raised by ``complete`` when the wr_id is not the oldest signaled record's (SHIFT_E_WRID_MISMATCH)."""

    code = -3


class TooManySGE(WRLogError):
    """Raised by ``post`` when a WR has more scatter/gather entries than a record holds (SHIFT_E_SGE)."""

    code = -4


class CounterAhead(WRLogError):
    """Raised by ``ack_remote`` when the peer's counter exceeds the two-sided WRs ever posted (SHIFT_E_COUNTER)."""

    code = -5


class OutOfRange(WRLogError):
    """Raised by ``truncate`` below the outstanding tail or above the head (SHIFT_E_RANGE)."""

    code = -6


BY_CODE: dict[int, type[WRLogError]] = {c.code: c for c in
                                        (RingOverflow, NoSignaledRecord, WrIdMismatch, TooManySGE, CounterAhead,
                                         OutOfRange)}


def raise_for(code: int, what: str) -> None:
    """Raise the error class of a negative C return ``code`` (``what`` names the operation)."""
    if code < 0:
        cls = BY_CODE[code]
        raise cls(f"Failed to {what}: {cls.__name__} (SHIFT_E code {code})")
