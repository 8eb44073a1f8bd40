"""Addresses of the modelled memories (receiver ``rx`` and sender ``tx``), shared by every protocol model.

Values are small naturals (the model's memory holds naturals; 0 = never written). Data of iteration ``s`` is
``s + 1``, so a value names the iteration that wrote it and a stale or torn read is visible as a wrong number.
"""

from __future__ import annotations

DATA = 100  #: rx: receive-buffer cells, slot after slot
CQE = 200  #: rx: the CQE written by the k-th RECV WQE consumed (a WRITE_WITH_IMM's notification) is at CQE + k
SIGNAL = 300  #: rx: the signal word an atomic FETCH_AND_ADD increments (NVSHMEM signal, MSCCL++ semaphore)
FIFO = 400  #: tx: CTS FIFO entries, two cells each: remote address at FIFO + 2j, idx at FIFO + 2j + 1
REUSE = 1000  #: a value the receiver application writes itself when it reuses a buffer in place (+ iteration)


def uid(wr: int, pkt: int, k: int = 0) -> int:
    """A distinct ``uid`` for each operation of each WR, so the model counts executions per operation."""
    return 1 + wr * 100 + pkt * 10 + k
