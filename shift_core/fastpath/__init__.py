"""SHIFT's fast path: the per-QP work-request log and state machine, compiled (cffi) or pure Python.

:func:`load` returns the compiled implementation when ``_fastpath`` has been built
(``python -m shift_core.fastpath.build``, ``make native``) and otherwise the pure-Python reference, with a
one-line reason, so the SHIFT layer always works and says which one it uses. Both expose ``WRLog`` and
``QPCore`` with identical semantics (``tests/fastpath/test_differential.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class FastPath:
    """The implementation in use: ``kind`` is ``"c"`` or ``"python"``; ``reason`` says why (for logs)."""

    kind: str
    module: ModuleType
    reason: str


def load(prefer: str = "c") -> FastPath:
    """The fast path to use: compiled when available and preferred, else the pure-Python reference."""
    import importlib

    from shift_core.fastpath import reference

    if prefer == "python":
        return FastPath("python", reference, "pure-Python reference requested")
    try:
        native = importlib.import_module("shift_core.fastpath.native")
    except ImportError as exc:
        return FastPath("python", reference,
                        f"compiled fast path unavailable ({exc}); build it with `python -m shift_core.fastpath.build`"
                        " (or `make native`); using the pure-Python reference")
    return FastPath("c", native, "compiled fast path (cffi) loaded")
