"""QPs from ibv_create_qp_ex posting with ibv_wr_* (perftest 4.5's default) are protected: libshift swaps
verbs_context.create_qp_ex and the QP's ibv_qp_ex builders; a QP asking for an operation the log cannot record
is refused with one warning naming it (and keeps working, unprotected)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.interposer.test_failover import assert_intact, pair


@pytest.mark.parametrize("workload", ["send", "nccl", "read", "pingpong"])
def test_wr_api_qp_fails_over_and_switches_back(fake: Any, workload: str) -> None:
    run = pair(fake, workload, "ackloss", "--ex")
    assert_intact(run)
    sender = min(run.summaries())
    assert run.summaries()[sender]["switch_backs"] == 2
    assert run.summaries()[sender]["replayed"] > 0


def test_unloggable_send_ops_refuse_the_qp_with_one_warning(fake: Any) -> None:
    run = fake("shift_pair", "--ex-extra", "--n", "200")
    assert_intact(run)
    warnings = [ln for ln in run.stderr.splitlines() if "send_ops_flags" in ln]
    assert len(warnings) == 1, run.stderr
    assert re.search(r"QP \d+: ibv_create_qp_ex with send_ops_flags 0x[0-9a-f]+", warnings[0])
    assert "no longer protected" in run.stderr


def test_refused_qp_is_not_failed_over(fake: Any) -> None:
    run = fake("shift_pair", "--ex-extra", "--n", "400", "--fault", "fake:p:down", "--fault-at", "100")
    assert run.hosts["A"]["errors"] > 0  # unprotected: the fault reaches the application, as without libshift
