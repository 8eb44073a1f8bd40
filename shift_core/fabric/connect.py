"""Connecting two RC QPs through the backend interface only (pyverbs tests' ``pre_run`` + ``to_rts``), so
the same helper serves ``sim``, ``rxe`` and ``nic``.
"""

from __future__ import annotations

from typing import Any

from shift_core.backend.attrs import AHAttr, GlobalRoute, QPAttr
from shift_core.backend.enums import ibv_mtu


def rc_attr(dgid: str, dest_qp_num: int, timeout: int = 14, retry_cnt: int = 6, rnr_retry: int = 6,
            min_rnr_timer: int = 12, path_mtu: ibv_mtu = ibv_mtu.IBV_MTU_1024) -> QPAttr:
    """The ``QPAttr`` an application sets to bring an RC QP to RTS towards (``dgid``, ``dest_qp_num``).

    Fault tests pass their own ``retry_cnt``: on rxe 7 means "retry forever" (DESIGN.md)."""
    return QPAttr(path_mtu=path_mtu, dest_qp_num=dest_qp_num, rq_psn=0, sq_psn=0, timeout=timeout,
                  retry_cnt=retry_cnt, rnr_retry=rnr_retry, min_rnr_timer=min_rnr_timer,
                  max_rd_atomic=16, max_dest_rd_atomic=16, ah_attr=AHAttr(gr=GlobalRoute(dgid=dgid)))


def connect(qp_a: Any, ctx_a: Any, qp_b: Any, ctx_b: Any, **attrs: Any) -> None:
    """Bring ``qp_a`` and ``qp_b`` to RTS, each pointing at the other (same ``attrs`` both ways)."""
    qp_a.to_rts(rc_attr(ctx_b.query_gid(), qp_b.qp_num, **attrs))
    qp_b.to_rts(rc_attr(ctx_a.query_gid(), qp_a.qp_num, **attrs))
