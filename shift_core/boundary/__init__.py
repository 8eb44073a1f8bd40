"""The protocol boundary (paper Table 1), derived by model checking on :mod:`shift_core.model`.

Each communication protocol of the table (``BOUNDARY_PROTOCOLS``: NCCL Simple / LL / LL128, NVSHMEM, MSCCL++)
is a sender WR pattern plus a receiver consumption rule (:mod:`.simple`, :mod:`.ll`, :mod:`.put_signal`), run over
RC transport with one fault at any point, any set of lost ACKs and SHIFT's WR-level retransmission
(:mod:`.transport`). An exhaustive BFS (:mod:`.search`) asks whether the receiver can consume stale, torn or
overwritten data or a signal can execute twice; counterexamples replay through the model alone
(:mod:`.replay`). :mod:`.cts_share` computes NCCL Simple's CTS byte share from NCCL's parameters.

Entry points: :func:`run` (one CheckResult per check, ``check_id`` ``boundary/<protocol>[/<exception>]``),
:func:`write_results` (``data/boundary/{boundary.json,cts_share.csv,manifest.json}``) and
``python -m shift_core.boundary --out data/boundary``.
"""

from shift_core.boundary.run import run, table_rows, write_results

__all__ = ["run", "table_rows", "write_results"]
