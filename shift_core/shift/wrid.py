"""Work-request ids the layer posts with: one id per backend post, mapped back to what it stands for.

The app's ``wr_id`` never reaches the NIC: each post (of an app WR on either QP, or of an internal WR:
probe, handshake, log, filler, switch-back notification) gets a fresh id, so a completion names exactly one
post even when the same app WR was posted on the default QP, rewound onto the backup and later stale.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class PostKind(enum.Enum):
    """What a backend post is for."""

    APP_SEND = "app_send"
    APP_RECV = "app_recv"
    PROBE = "probe"                # empty WRITE on the reset default QP (§4.3.3)
    HANDSHAKE = "handshake"        # mailbox WRITE carrying the receive counter
    NOTIFY = "notify"              # switch-back WRITE_WITH_IMM on the default QP
    NOTIFY_RECV = "notify_recv"    # the RECV pre-posted on the reset default QP for that notification
    FILLER = "filler"              # zero-length SEND consuming a stale WQE on the peer's backup QP
    LOG_WRITE = "log_write"        # receiver_log: piggybacked completion-log WRITE
    LOG_READ = "log_read"          # receiver_log: READ of the peer's log after a fault
    STAGE_RECV = "stage_recv"      # staging: receive WQE absorbing a staged WRITE_WITH_IMM
    STAGED = "staged"              # staging: a staged message (an app op or an atomic's reply)
    CREDIT = "credit"              # staging: inline WRITE returning consumed ring space to the peer


@dataclass(slots=True)
class Post:
    """One backend post: its kind, the app sequence it carries (0 if none) and the path it went on."""

    kind: PostKind
    seq: int
    backup: bool
    stale: bool = False
