"""The project's error hierarchy (after pyverbs' ``pyverbs_error.py``).

A failed work completion is *data* (a :class:`~shift_core.backend.WC` with an error status), never an
exception. Exceptions are for failed calls and bad input. Messages follow one pattern: "Failed to <verb>"
for backend failures, and "<what is wrong>: <what to do>" for user mistakes, so the CLI can print each as
one line.
"""

from __future__ import annotations

import errno as _errno
import os


class ShiftError(Exception):
    """Base of every error this project raises on purpose."""


class ShiftRDMAError(ShiftError):
    """Raised when a backend (sim, pyverbs) fails a verbs call; carries the errno as ``error_code``."""

    def __init__(self, msg: str, error_code: int = 0) -> None:
        self.error_code = error_code
        if error_code:
            msg = f"{msg}. Errno: {error_code}, {os.strerror(error_code)}"
        super().__init__(msg)


class ShiftUserError(ShiftError):
    """Raised on caller mistakes: bad configuration, arguments, fault schedules or trace files."""


class InvalidModel(ShiftError):
    """Raised when a model, trace or check definition is malformed; the message names the culprit and the fix."""


class NoDevice(ShiftRDMAError):
    """Raised when a backend finds no RDMA device (e.g. a host kernel without RDMA: ENOSYS/ENODEV)."""

    def __init__(self, msg: str, error_code: int = _errno.ENODEV) -> None:
        super().__init__(msg, error_code)
