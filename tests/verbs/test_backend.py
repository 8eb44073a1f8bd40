"""shift_core.verbs on a host without pyverbs: a one-line NoDevice that says where the backend runs."""

from __future__ import annotations

import importlib.util

import pytest

from shift_core.errors import NoDevice, ShiftUserError

HAS_PYVERBS = importlib.util.find_spec("pyverbs") is not None


@pytest.mark.skipif(HAS_PYVERBS, reason="this interpreter has pyverbs (the guest suite covers that case)")
def test_open_backend_without_pyverbs_is_one_line_no_device() -> None:
    from shift_core.verbs import open_backend

    with pytest.raises(NoDevice) as exc:
        open_backend("rxe")
    msg = str(exc.value)
    assert "\n" not in msg and "python3-pyverbs" in msg and "shift rxe run" in msg


def test_unknown_verbs_backend_name_is_a_user_error() -> None:
    from shift_core.verbs.backend import VerbsBackend

    with pytest.raises(ShiftUserError, match="use 'rxe' or 'nic'"):
        VerbsBackend("sim")


def test_the_verbs_package_imports_only_the_standard_library() -> None:
    """It runs on the guest's Debian python3 beside python3-pyverbs: no numpy/pandas/pydantic/click there."""
    import ast
    import sys
    from pathlib import Path

    pkg = Path(__file__).resolve().parents[2] / "shift_core" / "verbs"
    for src in pkg.glob("*.py"):
        for node in ast.walk(ast.parse(src.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else [])
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or top in ("shift_core", "pyverbs"), f"{src.name}: {name}"
