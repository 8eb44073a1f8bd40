"""Import rdma-core's pyverbs once, turning "not importable here" into :class:`~shift_core.errors.NoDevice`.

Why a module: PyPI's pyverbs does not load against a distribution's libibverbs, and Debian's python3-pyverbs
loads only into Debian's python3; the message must say where the backend can run instead of a traceback.
"""

from __future__ import annotations

import errno
import importlib
from types import SimpleNamespace
from typing import Any

from shift_core.errors import NoDevice, ShiftRDMAError

_MODULES = ("device", "pd", "mr", "cq", "qp", "wr", "addr", "enums", "pyverbs_error")
_cache: SimpleNamespace | None = None


def pyverbs() -> Any:
    """The pyverbs modules as one namespace (``pv.device.Context``, ``pv.qp.QP`` ...).

    :raises NoDevice: pyverbs cannot be imported by this interpreter.
    """
    global _cache
    if _cache is None:
        try:
            mods = {name: importlib.import_module(f"pyverbs.{name}") for name in _MODULES}
        except ImportError as exc:
            raise NoDevice(f"pyverbs is not importable by this python ({exc}): run the verbs backend with the "
                           "distribution's python3 and python3-pyverbs (e.g. inside the guest: `shift rxe run`)",
                           errno.ENOSYS) from None
        _cache = SimpleNamespace(**mods)
    return _cache


def rdma_error(msg: str, exc: BaseException) -> ShiftRDMAError:
    """Wrap a pyverbs exception as a :class:`ShiftRDMAError` with its errno (``error_code``)."""
    code = int(getattr(exc, "error_code", 0) or 0)
    return ShiftRDMAError(f"{msg}: {exc}", code)
