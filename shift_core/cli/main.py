"""The ``shift`` command line: one click group, one module per subcommand group.

Each module listed in :data:`COMMAND_MODULES` defines ``register(group)``. Errors are printed as a single
line that says what to do (``shift: error: ...``), never as a traceback: usage mistakes and
:class:`~shift_core.errors.ShiftUserError` exit 2, backend failures (:class:`~shift_core.errors.ShiftError`)
exit 1.
"""

from __future__ import annotations

import importlib
import sys

import click

from shift_core import __version__
from shift_core.errors import ShiftError, ShiftUserError

#: subcommand modules under ``shift_core.cli`` (each defines ``register(group)``)
COMMAND_MODULES: tuple[str, ...] = ("check", "faults", "explore", "fabric", "bench", "rxe")


@click.group(name="shift", context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="shift-artifact")
def cli() -> None:
    """SHIFT artifact: theorem checks, the emulated RDMA fabric, failover strategies and benchmarks."""


def _register_all() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"shift_core.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"shift_core.cli.{name}":
                continue  # that command group is not built yet
            raise
        module.register(cli)


def _fail(msg: str, code: int) -> None:
    print(f"shift: error: {msg}", file=sys.stderr)
    raise SystemExit(code)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``shift`` console script."""
    _register_all()
    try:
        rv = cli.main(args=argv, prog_name="shift", standalone_mode=False)
    except click.UsageError as exc:
        sub = exc.ctx.command_path if exc.ctx else "shift"
        _fail(f"{exc.format_message()} (see '{sub} --help')", 2)
    except click.exceptions.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except click.Abort:
        _fail("aborted", 130)
    except ShiftUserError as exc:
        _fail(str(exc), 2)
    except ShiftError as exc:
        _fail(str(exc), 1)
    except KeyboardInterrupt:
        _fail("interrupted; finished results are kept, rerun to resume", 130)
    if isinstance(rv, int) and rv:
        raise SystemExit(rv)


if __name__ == "__main__":  # pragma: no cover
    main()
