"""Queue sliding (our model; not mechanized in Rocq): a retried SEND misaligns every later message."""

from __future__ import annotations

from shift_core.model.check import CheckResult
from shift_core.theorems import thm2_queue_sliding as qs

ID = "thm2_queue_sliding"


def test_results(results: dict[str, CheckResult]) -> None:
    w, s = results[f"{ID}/witness"], results[f"{ID}/sliding"]
    assert w.passed and s.passed and s.rocq_name == "" and "NOT mechanized" in s.notes
    assert s.counterexample == ("2 receive WQEs", "send m1", "retry m1", "send m2", "m1 -> B1", "m1 -> B2",
                                "m2 -> RNR")
    assert "m2->B3" in s.notes  # with 3 WQEs the later message lands one buffer off
    assert (s.counts["runs"], s.counts["runs_with_retry"], s.counts["misaligned"]) == (56, 40, 10)


def test_one_message_cannot_misalign() -> None:
    r = qs.sliding_search(max_msgs=1)
    assert r.verdict == "holds" and not r.passed  # a retry needs a later message to slide


def test_baseline() -> None:
    assert qs.baseline(3, 2) == 2 and qs.baseline(1, 2) is None
