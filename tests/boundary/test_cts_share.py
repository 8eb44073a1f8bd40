"""NCCL Simple's CTS byte share from protocol parameters."""

from __future__ import annotations

import csv
import io

import pytest

from shift_core.boundary.cts_share import SETTINGS, NcclParams, share, table, to_csv


def test_large_ring_allreduce_share_is_entry_over_request():
    p = NcclParams()
    assert p.request_bytes == (4 << 20) // 8 * 2
    row = share(1 << 32, p)
    assert row.cts_share_pct == pytest.approx(100 * 64 / (64 + (1 << 20)), rel=1e-3)
    assert row.cts_share_pct < 0.02  # the paper's bound holds for large all-reduce messages


def test_p2p_chunks_exceed_the_papers_bound():
    row = share(1 << 30, NcclParams(pattern="p2p"))
    assert row.cts_share_pct == pytest.approx(100 * 64 / (64 + (128 << 10)), rel=1e-3)
    assert row.cts_share_pct > 0.02


def test_share_falls_with_message_size_and_csv_round_trips():
    rows = table()
    for name in SETTINGS:
        pct = [r.cts_share_pct for r in rows if r.setting == name]
        assert pct == sorted(pct, reverse=True)
    back = list(csv.DictReader(io.StringIO(to_csv(rows))))
    assert len(back) == len(rows) and "cts_share_pct" in back[0] and "message_bytes" in back[0]


def test_bad_size_is_rejected():
    with pytest.raises(ValueError, match="positive"):
        share(0, NcclParams())


def test_summary_reports_where_the_paper_bound_starts_to_hold():
    from shift_core.boundary.cts_share import summary

    s = summary(table())
    assert s["ring_allreduce"]["asymptotic_pct"] < 0.02 < s["p2p"]["asymptotic_pct"]
    assert s["ring_allreduce"]["under_paper_bound_from_bytes"] == 64 << 20
    assert s["p2p"]["under_paper_bound_from_bytes"] is None
