"""Thm 3: Rocq's pid-blind argument, a genuine bounded Herlihy check (cross-checked by brute force), solvers."""

from __future__ import annotations

import itertools

import pytest

from shift_core.model.check import CheckResult
from shift_core.theorems import herlihy, thm3_consensus
from shift_core.theorems.herlihy import Layout, Tree

ID = "thm3_consensus"


def test_every_result_passes(results: dict[str, CheckResult]) -> None:
    mine = [r for cid, r in results.items() if cid.startswith(ID)]
    assert len(mine) == 7 and all(r.passed for r in mine)


def test_rocq_rw_golden(results: dict[str, CheckResult]) -> None:
    c = results[f"{ID}/rocq_rw_observation"].counts
    assert (c["valid_rw_observations"], c["writers_before_classes"], c["pid_blind_solutions"]) == (27, 3, 0)
    assert c["pid_aware_solutions"] == 432


def test_herlihy_golden(results: dict[str, CheckResult]) -> None:
    c = results[f"{ID}/herlihy_rw_2consensus"].counts
    assert c["trees_per_process_input"] == 141 and c["protocols_per_layout"] == 141**4
    assert c["solvable_shared"] == 0 and c["solvable_swmr"] == 0
    assert (c["fadd_solvable"], c["fadd_protocols"], c["cas_solvable"], c["cas_protocols"]) == (4, 81, 4, 10000)
    chain = results[f"{ID}/herlihy_rw_2consensus"].counterexample
    assert chain[0].startswith("forces 0") and chain[-1].startswith("forces 1")


def test_solvers(results: dict[str, CheckResult]) -> None:
    r = results[f"{ID}/failover_solvers"]
    assert r.counts["correct_verifiers"] == 0 and r.counts["correct_on_rocq_declared_histories"] == 0
    assert r.counterexample_pair == (("S", "P:CAS(a0,1->0)"), ())


def _brute_solvable(ts: list[Tree], proto: tuple[int, int, int, int], layout: Layout) -> bool:
    """Try every decision map on every view; agreement + validity on every run of every input pair."""
    tree_of = {(0, 0): proto[0], (0, 1): proto[1], (1, 0): proto[2], (1, 1): proto[3]}
    all_runs = {(x0, x1): herlihy.runs(ts[tree_of[(0, x0)]], ts[tree_of[(1, x1)]], layout)
                for x0, x1 in itertools.product((0, 1), repeat=2)}
    nodes = sorted({(0, x0, v0) for (x0, _x1), rs in all_runs.items() for _s, v0, _v1 in rs}
                   | {(1, x1, v1) for (_x0, x1), rs in all_runs.items() for _s, _v0, v1 in rs})
    for bits in itertools.product((0, 1), repeat=len(nodes)):
        dec = dict(zip(nodes, bits, strict=True))
        if all(dec[(0, x0, v0)] == dec[(1, x1, v1)] and dec[(0, x0, v0)] in (x0, x1)
               for (x0, x1), rs in all_runs.items() for _s, v0, v1 in rs):
            return True
    return False


@pytest.mark.parametrize(("family", "layout"), [
    ("faa", "shared"), ("rw_small", "shared"), ("rw_small", "swmr"), ("cas_small", "shared"),
])
def test_agreement_graph_solver_equals_brute_force(family: str, layout: Layout) -> None:
    if family == "faa":
        ts = herlihy.trees([("faa", 1), ("faa", 2)], [], (0, 1, 2))
    elif family == "cas_small":
        ts = [Tree(None), *(Tree(("cas", 0, n), ((-1, None),)) for n in (1, 2))]
    else:
        ts = [Tree(None), Tree(("write", 1), ((-1, None),)), Tree(("write", 1), ((-1, ("read",)),)),
              Tree(("read",), ((0, None), (1, None), (2, None)))]
    expected = sum(_brute_solvable(ts, p, layout) for p in itertools.product(range(len(ts)), repeat=4))
    got = herlihy.solvable_count(ts, layout).solvable
    assert got == expected
    if family in ("faa", "cas_small"):
        assert got > 0  # the brute force can say yes
    else:
        assert got == 0


def test_runs_interleave_every_way() -> None:
    t = Tree(("write", 1), ((-1, ("read",)),))
    rs = herlihy.runs(t, t, "swmr")
    assert sorted(s for s, _v0, _v1 in rs) == sorted(set(itertools.permutations((0, 0, 1, 1))))


def test_reduction_witness() -> None:
    r = thm3_consensus.reduction_witness()
    assert r.passed and r.counts == {"agreement_solo": 1, "validity_solo": 1, "agreement_aba": 1,
                                     "validity_aba": 0}


def test_past_future_record_is_empty(results: dict[str, CheckResult]) -> None:
    c = results[f"{ID}/past_future"].counts
    assert (c["protocols"], c["agreement"], c["validity"], c["agreement_and_validity"]) == (16, 2, 4, 0)
    assert c["correct_future_functions"] == 0
