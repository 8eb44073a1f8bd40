"""The share of RDMA bytes that are NCCL Simple's reverse CTS writes (``ncclIbPostFifo``), from protocol parameters.

Paper Table 1 says CTS bytes are < 0.02 % of RDMA traffic in its training setting. This module derives the
share from NCCL's own parameters, each an explicit input (:class:`NcclParams`), instead of restating it:

* every network receive request (``ncclIbIrecv``) makes the receiver RDMA-WRITE one FIFO entry
  (``struct alignas(64) ncclIbSendFifo``: addr, size, rkeys, nreqs, tag, idx, padding = 64 B; newer releases
  also have a 32 B inline variant ``ncclIbSendFifoCtsInline``) into the sender's FIFO;
* the sender answers with one data chain of at most ``request_bytes`` (Simple: ``stepSize x sliceSteps`` with
  ``stepSize = NCCL_BUFFSIZE / NCCL_STEPS``; point-to-point: ``NCCL_P2P_NET_CHUNKSIZE``), closed by a
  WRITE_WITH_IMM whose payload is empty for a single request (the immediate carries the size);
* a ring all-reduce of ``M`` bytes over ``n`` ranks sends ``2 (n - 1)`` chunks of ``M / n`` bytes per rank,
  split over ``channels``; a point-to-point send moves ``M`` bytes split over ``channels``.

share = CTS bytes / (data bytes + IMM payload bytes + CTS bytes), payload bytes only (no RoCE/IB headers).
This is an estimate from parameters, not a trace: NCCL's real slicing (``chunkSteps``, protocol selection,
grouped receives with ``nreqs > 1``) changes the request count at small sizes.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

Pattern = Literal["ring_allreduce", "p2p"]


@dataclass(frozen=True)
class NcclParams:
    """NCCL parameters of one traffic pattern; defaults are NCCL's documented defaults (values as of 2.18-2.2x).

    :param buffsize: ``NCCL_BUFFSIZE`` (Simple buffer per channel and peer), default 4 MiB.
    :param steps: ``NCCL_STEPS`` (slots of that buffer), 8.
    :param slice_steps: steps per network request (ring all-reduce ``ALLREDUCE_SLICESTEPS = NCCL_STEPS / 4``).
    :param p2p_chunk: ``NCCL_P2P_NET_CHUNKSIZE``, default 128 KiB (used by ``p2p``).
    :param fifo_entry_bytes: bytes of one CTS FIFO entry (``sizeof(struct ncclIbSendFifo)`` = 64).
    :param imm_payload_bytes: payload of the closing WRITE_WITH_IMM per request (0 for ``nreqs == 1``).
    :param ranks: ranks in the ring (paper §5.3: 2 servers x 8 GPUs = 16).
    :param channels: channels the message is split over.
    """

    pattern: Pattern = "ring_allreduce"
    buffsize: int = 4 << 20
    steps: int = 8
    slice_steps: int = 2
    p2p_chunk: int = 128 << 10
    fifo_entry_bytes: int = 64
    imm_payload_bytes: int = 0
    ranks: int = 16
    channels: int = 8

    @property
    def request_bytes(self) -> int:
        """The most data one CTS can announce."""
        if self.pattern == "p2p":
            return self.p2p_chunk
        return self.buffsize // self.steps * self.slice_steps


@dataclass(frozen=True)
class ShareRow:
    """One message size's byte accounting per rank (all channels)."""

    setting: str
    pattern: str
    message_bytes: int
    request_bytes_max: int
    requests: int
    data_bytes: int
    cts_bytes: int
    imm_bytes: int
    cts_share_pct: float


def share(message_bytes: int, p: NcclParams, setting: str = "") -> ShareRow:
    """The CTS share for one message of ``message_bytes`` under ``p``."""
    if message_bytes <= 0:
        raise ValueError(f"message_bytes must be positive, got {message_bytes}")
    if p.pattern == "ring_allreduce":
        chunks, chunk = 2 * (p.ranks - 1), message_bytes / p.ranks
    else:
        chunks, chunk = 1, float(message_bytes)
    per_channel = chunk / p.channels
    requests = chunks * p.channels * max(1, math.ceil(per_channel / p.request_bytes))
    data = round(chunks * chunk)
    cts = requests * p.fifo_entry_bytes
    imm = requests * p.imm_payload_bytes
    pct = 100.0 * cts / (data + imm + cts)
    return ShareRow(setting or p.pattern, p.pattern, message_bytes, p.request_bytes, requests, data, cts, imm, pct)


#: the settings of the table: NCCL defaults for the two traffic patterns of data/tensor/pipeline parallelism,
#: and the inline-CTS entry size of newer releases
SETTINGS: dict[str, NcclParams] = {
    "ring_allreduce": NcclParams(),
    "ring_allreduce_inline_cts": NcclParams(fifo_entry_bytes=32),
    "p2p": NcclParams(pattern="p2p"),
}

MESSAGE_SIZES: tuple[int, ...] = tuple(1 << k for k in range(10, 33, 2))  #: 1 KiB .. 4 GiB


def table(sizes: tuple[int, ...] = MESSAGE_SIZES, settings: dict[str, NcclParams] | None = None) -> list[ShareRow]:
    """One row per (setting, message size)."""
    return [share(m, p, name) for name, p in (settings or SETTINGS).items() for m in sizes]


def to_csv(rows: list[ShareRow]) -> str:
    """The table as CSV (columns = :class:`ShareRow` fields)."""
    buf = io.StringIO()
    fields = list(ShareRow.__dataclass_fields__)
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    for r in rows:
        d = asdict(r)
        d["cts_share_pct"] = f"{r.cts_share_pct:.6g}"
        w.writerow(d)
    return buf.getvalue()


def asymptotic_pct(p: NcclParams) -> float:
    """The share once every request is full (large messages): one FIFO entry per ``request_bytes`` of data."""
    return 100.0 * p.fifo_entry_bytes / (p.fifo_entry_bytes + p.request_bytes + p.imm_payload_bytes)


PAPER_BOUND_PCT = 0.02  #: the paper's claim: CTS bytes < 0.02 % of RDMA traffic


def summary(rows: list[ShareRow], settings: dict[str, NcclParams] | None = None) -> dict[str, dict[str, Any]]:
    """Per setting: the asymptotic share, and the smallest tabulated message size from which every larger one
    stays under the paper's 0.02 % (``None`` when none does)."""
    out: dict[str, dict[str, Any]] = {}
    for name, p in (settings or SETTINGS).items():
        mine = sorted((r for r in rows if r.setting == name), key=lambda r: r.message_bytes)
        below = None
        for r in reversed(mine):
            if r.cts_share_pct >= PAPER_BOUND_PCT:
                break
            below = r.message_bytes
        out[name] = {"asymptotic_pct": asymptotic_pct(p), "under_paper_bound_from_bytes": below}
    return out


def parameters(settings: dict[str, NcclParams] | None = None) -> dict[str, dict[str, Any]]:
    """Every input of the table, for the JSON record."""
    return {name: {**asdict(p), "request_bytes": p.request_bytes} for name, p in (settings or SETTINGS).items()}
