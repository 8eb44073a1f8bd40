"""Build the compiled fast path: ``shift_core/fastpath/_fastpath*.so`` (cffi API mode over ``csrc/``).

Why a separate step (not ``cffi_modules`` in pyproject): the pipeline's build rule, ``make native`` and the
test suite's session fixture all call ``python -m shift_core.fastpath.build``; it regenerates
``csrc/shift_machine_gen.h`` from :mod:`shift_core.shift.machine` first, so the C table can never lag the
Python one. Compiles in a temporary directory and moves the module into place atomically, so concurrent
builds (or an interrupted one) never leave a half-written extension. Takes ~1 s.
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

from shift_core.errors import ShiftUserError
from shift_core.fastpath import gen_machine

CSRC = gen_machine.REPO_ROOT / "csrc"
PACKAGE_DIR = Path(__file__).resolve().parent
MODULE = "shift_core.fastpath._fastpath"

CDEF = """
#define SHIFT_MAX_SGE ...
struct shift_sge { uint64_t addr; uint32_t length; uint32_t lkey; };
struct shift_wr {
    uint64_t wr_id; uint64_t remote_addr;
    uint64_t compare_add; uint64_t swap;
    uint32_t rkey; uint32_t imm_data;
    uint8_t opcode; uint8_t signaled; uint8_t num_sge; uint8_t flags;
    uint32_t send_flags;
    struct shift_sge sge0;
};
struct shift_wr_ext { struct shift_sge sge[...]; };
struct shift_wrlog { uint64_t head; uint64_t tail; uint64_t mask; uint64_t two_sided_retired; ...; };
struct shift_cursor { uint64_t seq; };
struct shift_qp_core { struct shift_wrlog *sq; struct shift_wrlog *rq; int sq_state; int rq_state; };

struct shift_wrlog *shift_wrlog_create(uint32_t capacity);
void shift_wrlog_destroy(struct shift_wrlog *log);
uint64_t shift_wrlog_capacity(const struct shift_wrlog *log);
uint64_t shift_wrlog_outstanding(const struct shift_wrlog *log);
uint64_t shift_wrlog_unsafe_outstanding(const struct shift_wrlog *log);
uint64_t shift_wrlog_two_sided_posted(const struct shift_wrlog *log);
int shift_wrlog_post(struct shift_wrlog *log, const struct shift_wr *wr, const struct shift_wr_ext *ext);
struct shift_wr_ext *shift_wrlog_ext(const struct shift_wrlog *log, const struct shift_wr *r);
int64_t shift_wrlog_complete(struct shift_wrlog *log, uint64_t wr_id);
int64_t shift_wrlog_ack_remote(struct shift_wrlog *log, uint64_t peer_count);
int shift_wrlog_truncate(struct shift_wrlog *log, uint64_t new_head);
void shift_wrlog_replay_begin(const struct shift_wrlog *log, struct shift_cursor *cur);
const struct shift_wr *shift_wrlog_replay_next(const struct shift_wrlog *log, struct shift_cursor *cur);

static const int SHIFT_SQ_NSTATES, SHIFT_SQ_NEVENTS, SHIFT_RQ_NSTATES, SHIFT_RQ_NEVENTS, SHIFT_E_ILLEGAL;
static const char *const SHIFT_MACHINE_FINGERPRINT;
extern const char *const shift_sq_state_names[];
extern const char *const shift_sq_event_names[];
extern const char *const shift_rq_state_names[];
extern const char *const shift_rq_event_names[];
int shift_sq_next(int state, int event);
int shift_rq_next(int state, int event);
int shift_core_sq_event(struct shift_qp_core *core, int ev);
int shift_core_rq_event(struct shift_qp_core *core, int ev);
int shift_core_error_event(const struct shift_qp_core *core, int on_backup);
int shift_core_on_error(struct shift_qp_core *core, int on_backup);
"""


def ffibuilder() -> Any:
    """The cffi builder (API mode) for the fast path; imports cffi lazily so the package needs it only here."""
    try:
        import cffi
    except ImportError as exc:
        raise ShiftUserError("cffi is not installed: pip install cffi (or make venv)") from exc
    ffi = cffi.FFI()
    ffi.cdef(CDEF)
    ffi.set_source(MODULE, '#include "shift_qpcore.h"\n', sources=[str(CSRC / "shift_wrlog.c")],
                   include_dirs=[str(CSRC)], extra_compile_args=["-O2", "-std=gnu11"])
    return ffi


def module_path() -> Path:
    """Where the compiled module lives (this interpreter's extension suffix)."""
    return PACKAGE_DIR / f"_fastpath{sysconfig.get_config_var('EXT_SUFFIX')}"


def fingerprint_path() -> Path:
    """Sidecar naming the state machine the compiled module was built from (read without importing it)."""
    return PACKAGE_DIR / "_fastpath.fingerprint"


def is_current() -> bool:
    """True when the compiled module exists and was built from the current ``machine.py``."""
    sidecar = fingerprint_path()
    return module_path().exists() and sidecar.exists() and sidecar.read_text().strip() == gen_machine.fingerprint()


def build() -> Path:
    """Regenerate the machine header, compile, and move the module into the package; returns its path."""
    gen_machine.write()
    if shutil.which(os.environ.get("CC", "cc")) is None and shutil.which("gcc") is None:
        raise ShiftUserError("no C compiler found: apt-get install gcc (the pure-Python fast path stays in use)")
    with tempfile.TemporaryDirectory(prefix="shift-fastpath-") as tmp:
        built = Path(ffibuilder().compile(tmpdir=tmp, verbose=False))
        target = module_path()
        staged = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        shutil.copy2(built, staged)
        os.replace(staged, target)
    sidecar = fingerprint_path()
    staged = sidecar.with_name(f".{sidecar.name}.{os.getpid()}.tmp")
    staged.write_text(gen_machine.fingerprint() + "\n")
    os.replace(staged, sidecar)
    return target


def main() -> int:
    """Entry point of ``python -m shift_core.fastpath.build``: one line on success or on a user error."""
    try:
        print(f"built {build()}")
    except ShiftUserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
