"""The handshake message of the receive-counter handshake (paper §4.3.2 step 4), as 32 bytes in a mailbox.

The paper carries the receive counter as the immediate of a WRITE_WITH_IMM, which consumes a receive WQE
on the peer's backup QP. Sharing that FIFO with the application's reposted RECVs makes the count of
handshake WQEs part of the protocol (both sides may initiate at once), so we write the message into a
per-QP mailbox MR with a plain RDMA WRITE instead and the peer's background step polls it. Same information,
same path (the backup QP), no receive WQE consumed. The message also carries how many stale receive WQEs
the sender of the message still has on its backup QP after a switch-back, so the peer first consumes them
with zero-length filler SENDs (else the next fallback would slide the queue).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

MAILBOX_BYTES = 32
_FMT = "<QQQQ"

REQ = 1  #: "I failed over; here is my receive counter"
ACK = 2  #: "seen; here is mine"


@dataclass(frozen=True, slots=True)
class Handshake:
    """One handshake message: ``number`` grows per message sent, so the receiver sees each exactly once."""

    number: int
    kind: int
    recv_count: int
    stale: int

    def pack(self) -> bytes:
        return struct.pack(_FMT, self.number, self.kind, self.recv_count, self.stale)

    @staticmethod
    def unpack(raw: bytes) -> Handshake:
        return Handshake(*struct.unpack(_FMT, raw[:MAILBOX_BYTES]))
