"""Paper Thm 3: the consensus barrier -- no transparent verifier can tell whether a CAS executed (Rocq ``Theorem4/``).

Rocq's chain is ``failover_solver_yields_2consensus`` -> ``readwrite_2consensus_impossible_same_protocol``
(= ``register_cn_1_verified``) -> ``failover_impossible_by_read_cn`` -> ``transparent_cas_failover_impossible``.
Its "register CN = 1" is a pid-blind observation argument on solo runs, and ``solves_failover`` is
unsatisfiable by construction (its ABA histories are *declared*). We check three things:

(a) ``rocq_rw_check`` (E): the Rocq-faithful statement -- every ``valid_rw_observation`` on the 10 points
    (executions [], [0], [1], [0,1], [1,0] x pid 0/1) and every pid-blind ``decide`` fail solo validity --
    and the modelling assumption it rests on: a pid-aware decide(pid, obs) = pid passes (control).
    ``fadd_check``/``cas_check`` (E): FADD cannot solve 3-consensus but its 2-process protocol works;
    the CAS sentinel protocol solves n-consensus for every n <= 5 over all schedules and binary inputs.
(b) ``herlihy_check`` (E): a GENUINE bounded Herlihy check, which Rocq lacks: every deterministic wait-free
    2-process protocol of <= 2 read/write steps per process on registers over {0,1,2} (one shared register;
    and two single-writer registers), every interleaving, every input pair: none admits a decision map with
    agreement + validity (:mod:`shift_core.theorems.herlihy`). Controls: the same engine finds the one-step FADD and CAS
    2-consensus protocols.
(c) ``solver_check`` (E): every verifier V : bounded memory -> {commit, abort} fails on the ABA pairs that the
    CAS schedule search *derives* (:func:`shift_core.theorems.thm2_atomics.derive_histories`); control: with no
    third party a correct V exists. ``reduction_witness`` (W): Rocq's ``consensus_protocol F my_id`` reaches
    validity exactly when F is correct on the instance.
"""

from __future__ import annotations

import itertools

from shift_core.model.check import CheckResult, Control
from shift_core.model.diagram import Diagram, Step, op_label
from shift_core.model.memory import Memory
from shift_core.theorems import herlihy
from shift_core.theorems.evidence import timed, verdict
from shift_core.theorems.thm2_atomics import DEFAULT_BOUND as CAS_THIRD_PARTY
from shift_core.theorems.thm2_atomics import S_ACTION, S_CAS, History, ambiguous_pairs, derive_histories

CHECK_ID = "thm3_consensus"
VALUES = (0, 1, 2)  #: register values of the Herlihy check (0 = initial)
MAX_CAS_N = 5
EXECS: tuple[tuple[int, ...], ...] = ((), (0,), (1,), (0, 1), (1, 0))  #: executions without repeats, pids {0,1}


def before_process(execution: tuple[int, ...], i: int) -> tuple[int, ...]:
    """Rocq ``before_process`` (= ``writers_before``): the prefix before i's first step (all of it if absent)."""
    return execution[: execution.index(i)] if i in execution else execution


def rocq_rw_check() -> CheckResult:
    """E: no valid read/write observation with a pid-blind decide meets both solo validities."""
    points = [(e, i) for e in EXECS for i in (0, 1)]
    solo0, solo1 = points.index(((0,), 0)), points.index(((1,), 1))
    with timed() as sw:
        valid = [obs for obs in itertools.product(range(3), repeat=len(points))
                 if all(obs[p] == obs[q] for p, q in itertools.combinations(range(len(points)), 2)
                        if before_process(*points[p]) == before_process(*points[q]))]
        blind = sum(1 for obs in valid for dec in itertools.product((0, 1), repeat=3)
                    if dec[obs[solo0]] == 0 and dec[obs[solo1]] == 1)
        aware = sum(1 for obs in valid for dec in itertools.product((0, 1), repeat=6)
                    if dec[3 * 0 + obs[solo0]] == 0 and dec[3 * 1 + obs[solo1]] == 1)
    classes = len({before_process(e, i) for e, i in points})
    return CheckResult(
        check_id=f"{CHECK_ID}/rocq_rw_observation", title="Rocq's register CN=1: pid-blind decide fails solo validity",
        kind="E", rocq_name="readwrite_2consensus_impossible_same_protocol", paper_name="register_cn_1_verified",
        mode="rocq", bound={"points": len(points), "obs_values": 3}, expected="counterexample",
        verdict=verdict(blind == 0 and len(valid) > 0), states=3 ** len(points), unique_states=len(valid),
        max_depth=2, complete=True, seconds=sw.seconds,
        counterexample=("solo [0]: writers_before = []", "solo [1]: writers_before = []",
                        "valid_rw_observation => obs equal => decide(obs) must be 0 and 1"),
        controls=(Control("pid-aware decide(pid, obs) meets both solo validities (e.g. decide = pid)", aware > 0,
                          f"{aware} (obs, decide) pairs; the Rocq theorem rests on decide being pid-blind"),),
        counts={"observations": 3 ** len(points), "valid_rw_observations": len(valid), "writers_before_classes":
                classes, "pid_blind_solutions": blind, "pid_aware_solutions": aware},
        notes="modelling assumption, not Herlihy's argument: solo runs only, agreement never used",
    )


def fadd_observe(deltas: tuple[int, ...], execution: tuple[int, ...], i: int) -> int:
    """Rocq ``fadd_observe``: the sum of the deltas of the processes before i."""
    return sum(deltas[p] for p in before_process(execution, i))


def fadd_check() -> CheckResult:
    """E: FADD observations cannot separate [0,1,2] from [1,0,2] for P2; the 2-process protocol works."""
    with timed() as sw:
        assignments = list(itertools.product((1, 2, 3), repeat=3))
        same = sum(fadd_observe(d, (0, 1, 2), 2) == fadd_observe(d, (1, 0, 2), 2) for d in assignments)
        two_ok = 0
        two_runs = 0
        for d in itertools.product((1, 2, 3), repeat=2):
            for execution in ((0, 1), (1, 0)):
                two_runs += 1
                # fadd_2consensus_protocol: obs = 0 -> I won -> my pid; else the other won
                dec = [p if fadd_observe(d, execution, p) == 0 else 1 - p for p in (0, 1)]
                two_ok += dec[0] == dec[1] == execution[0]
    return CheckResult(
        check_id=f"{CHECK_ID}/fadd_cn2", title="FADD: 2-consensus yes, 3-consensus no (observation model)",
        kind="E", rocq_name="fadd_cannot_solve_3consensus / fadd_2proto_validity", paper_name="", mode="rocq",
        bound={"deltas": "{1,2,3}^3"}, expected="counterexample", verdict=verdict(same == len(assignments)),
        states=len(assignments) + two_runs, unique_states=len(assignments) + two_runs, max_depth=3, complete=True,
        seconds=sw.seconds, counterexample=("P2 observes the same sum after [0,1,2] and [1,0,2]",),
        controls=(Control("fadd_2consensus_protocol: agreement + validity for ALL processes (Rocq checks P0)",
                          two_ok == two_runs, f"{two_ok}/{two_runs} runs"),),
        counts={"delta_assignments": len(assignments), "indistinguishable_for_p2": same, "two_process_runs":
                two_runs, "two_process_correct": two_ok},
    )


def cas_check(max_n: int = MAX_CAS_N) -> CheckResult:
    """E: the CAS sentinel protocol solves n-consensus, every n <= max_n, every schedule and binary input."""
    runs = bad = 0
    with timed() as sw:
        for n in range(1, max_n + 1):
            sentinel = n + 1
            for inputs in itertools.product((0, 1), repeat=n):
                for order in itertools.permutations(range(n)):
                    runs += 1
                    reg = sentinel
                    seen = []
                    for p in order:  # cas_step: CAS(reg, sentinel, input) and read the winner back
                        if reg == sentinel:
                            reg = inputs[p]
                        seen.append(reg)
                    decisions = set(seen)
                    bad += len(decisions) != 1 or next(iter(decisions)) != inputs[order[0]]
    return CheckResult(
        check_id=f"{CHECK_ID}/cas_n_consensus", title=f"CAS sentinel protocol solves n-consensus, n <= {max_n}",
        kind="E", rocq_name="cas_can_solve_any_n / final_register_is_winner", paper_name="", mode="rocq",
        bound={"max_n": max_n, "inputs": "binary"}, expected="holds", verdict=verdict(bad > 0), states=runs,
        unique_states=runs, max_depth=max_n, complete=True, seconds=sw.seconds,
        counts={"runs": runs, "violations": bad},
        notes="agreement, validity (= first process's input) over all permutations of n processes",
    )


def _rw_trees() -> list[herlihy.Tree]:
    prims: list[herlihy.Prim] = [("read",), *(("write", v) for v in VALUES)]
    return herlihy.trees(prims, prims, VALUES)


def herlihy_check() -> CheckResult:
    """E: no <= 2-step read/write protocol solves wait-free 2-consensus (genuine bounded Herlihy check)."""
    rw = _rw_trees()
    with timed() as sw:
        shared = herlihy.solvable_count(rw, "shared")
        swmr = herlihy.solvable_count(rw, "swmr")
        faa_trees = herlihy.trees([("faa", 1), ("faa", 2)], [], VALUES)
        faa = herlihy.solvable_count(faa_trees, "shared")
        cas_trees = herlihy.trees([("cas", e, n) for e in VALUES for n in VALUES], [], VALUES)
        cas = herlihy.solvable_count(cas_trees, "shared")
    ix = {t: i for i, t in enumerate(rw)}
    wr = {v: next(t for t in rw if t.first == ("write", v) and t.second == ((-1, ("read",)),)) for v in (1, 2)}
    example = (ix[wr[1]], ix[wr[2]], ix[wr[1]], ix[wr[2]])
    chain = herlihy.explain(rw, example, "swmr") or []
    c0, c1 = (cas_trees.index(herlihy.Tree(("cas", 0, x + 1), ((-1, None),))) for x in (0, 1))
    f0, f1 = (faa_trees.index(herlihy.Tree(("faa", x + 1), ((-1, None),))) for x in (0, 1))
    controls = (
        Control("one-step FADD protocols that solve 2-consensus exist (same engine)", faa.solvable > 0,
                f"{faa.solvable} of {faa.protocols}; FADD(R, input+1) passes: "
                f"{herlihy.explain(faa_trees, (f0, f1, f0, f1), 'shared') is None}"),
        Control("one-step CAS protocols that solve 2-consensus exist (same engine)", cas.solvable > 0,
                f"{cas.solvable} of {cas.protocols}; CAS(R, 0, input+1) passes: "
                f"{herlihy.explain(cas_trees, (c0, c1, c0, c1), 'shared') is None}"),
    )
    found = shared.solvable == 0 and swmr.solvable == 0
    return CheckResult(
        check_id=f"{CHECK_ID}/herlihy_rw_2consensus",
        title="no <=2-step read/write protocol solves wait-free 2-consensus (all protocols, all interleavings)",
        kind="E", rocq_name="register_cn_1_verified", paper_name="register_cn_1_verified", mode="causal",
        bound={"processes": 2, "max_steps": 2, "values": list(VALUES), "layouts": ["shared", "swmr"]},
        expected="counterexample", verdict=verdict(found), states=shared.protocols + swmr.protocols,
        unique_states=len(rw), max_depth=4, complete=True, seconds=sw.seconds,
        counterexample=tuple(chain), controls=controls,
        counts={"trees_per_process_input": len(rw), "protocols_per_layout": shared.protocols,
                "solvable_shared": shared.solvable, "solvable_swmr": swmr.solvable,
                "runs_simulated": shared.runs_simulated + swmr.runs_simulated,
                "fadd_protocols": faa.protocols, "fadd_solvable": faa.solvable,
                "cas_protocols": cas.protocols, "cas_solvable": cas.solvable},
        notes="states = protocols checked (a, b, c, d: one tree per process and input); each protocol is solvable "
              "iff some decision map works, decided exactly by the agreement-graph argument. Counterexample: "
              "the valency chain defeating 'write(input+1) to my register, read the other' (swmr)",
    )


def past_future_check() -> CheckResult:
    """E: Rocq's Past/Future formulation -- every ``past_proposes`` x ``future_proposes`` (4 x 4) fails."""
    past_k, future_o = ("PastExecuted", "PastNotExecuted"), ("FutureSeesTimeout", "FutureSeesCompletion")
    correct = {"PastExecuted": "Commit", "PastNotExecuted": "Abort"}
    decisions = ("Commit", "Abort")
    with timed() as sw:
        protos = [(dict(zip(past_k, p, strict=True)), dict(zip(future_o, f, strict=True)))
                  for p in itertools.product(decisions, repeat=2) for f in itertools.product(decisions, repeat=2)]
        # agreement: forall pk fo, past(pk) = future(fo); validity: past(pk) = correct_decision(pk)
        agree = [(p, f) for p, f in protos if all(p[k] == f[o] for k in past_k for o in future_o)]
        valid = [(p, f) for p, f in protos if all(p[k] == correct[k] for k in past_k)]
        both = [x for x in agree if x in valid]
        # no_correct_future_decision: f(FutureSeesTimeout) must be Abort (scenario 1) and Commit (scenario 2)
        scenarios = (("FutureSeesTimeout", "Abort"), ("FutureSeesTimeout", "Commit"))  # packet lost; ACK lost
        futures = [dict(zip(future_o, f, strict=True)) for f in itertools.product(decisions, repeat=2)]
        future_ok = [f for f in futures if all(f[obs] == dec for obs, dec in scenarios)]
    return CheckResult(
        check_id=f"{CHECK_ID}/past_future", title="Rocq's Past/Future failover protocol record is empty",
        kind="E", rocq_name="failover_consensus_impossible / no_correct_future_decision", paper_name="",
        mode="rocq", bound={"protocols": len(protos)}, expected="counterexample",
        verdict=verdict(not both and not future_ok), states=len(protos), unique_states=len(protos), max_depth=1,
        complete=True, seconds=sw.seconds,
        counterexample=("both scenarios: the future sees FutureSeesTimeout",
                        "correct: Abort (packet lost) vs Commit (CAS executed, ACK lost)"),
        counts={"protocols": len(protos), "agreement": len(agree), "validity": len(valid),
                "agreement_and_validity": len(both), "correct_future_functions": len(future_ok)},
        notes="agreement ties every past knowledge to every future observation, so it alone forces a constant "
              "decision: the record is unsatisfiable whatever the observations (digest 2.9)",
    )


def aba_diagram(title: str, histories: tuple[History, ...], verdict: str = "") -> Diagram:
    """Histories as S / P / memory lanes, one after the other: what each actor did and the memory it left, then
    ``verdict`` (what a verifier concludes from that memory) as a last note."""
    steps: list[Step] = []
    for h in histories:
        steps.append(Step("S", "S", f"--- {'S executed' if h.executed else 'S never executed'} ---"))
        for a in h.actions:
            actor, label = ("S", f"{op_label(S_CAS)} executes") if a == S_ACTION else ("P", a.removeprefix("P:"))
            steps.append(Step(actor, "memory", label))
        cells = ", ".join(f"m[a{a}]={v}" for a, v in sorted(h.memory.as_dict().items())) or "m[a0]=0 (initial)"
        steps.append(Step("memory", "memory", f"final memory: {cells}"))
    if verdict:
        steps.append(Step("S", "S", verdict))
    return Diagram(title, ("S", "P", "memory"), tuple(steps))


def _memory_domain() -> list[Memory]:
    """Bounded memory of the verifier: a0 in {0..3} (what the derived histories reach), a1 in {0,1,2}."""
    return [Memory.of({0: v0, 1: v1}) for v0 in range(4) for v1 in range(3)]


def _correct_verifiers(n_mems: int, commit: int, abort: int) -> int:
    """Try every V (bit i = commit on memory i): count those that commit on every executed history's memory
    (``commit`` mask) and abort on every never-executed one (``abort`` mask)."""
    return sum(1 for v in range(1 << n_mems) if commit & ~v == 0 and abort & v == 0)


def solver_check(max_third: int = CAS_THIRD_PARTY) -> CheckResult:
    """E: every V : bounded memory -> {commit, abort} fails on the derived ABA histories."""
    mems = _memory_domain()
    pos = {m: i for i, m in enumerate(mems)}
    with timed() as sw:
        hist, _states = derive_histories(max_third)
        commit = sum(1 << pos[h.memory] for h in hist if h.executed)
        abort = sum(1 << pos[h.memory] for h in hist if not h.executed)
        correct = _correct_verifiers(len(mems), commit, abort)
        solo, _ = derive_histories(0)
        solo_correct = _correct_verifiers(len(mems), sum(1 << pos[h.memory] for h in solo if h.executed),
                                          sum(1 << pos[h.memory] for h in solo if not h.executed))
        everything = (1 << len(mems)) - 1  # Rocq: HistExecuted m and HistNotExecuted m for every m
        declared = _correct_verifiers(len(mems), everything, everything)
    pairs = ambiguous_pairs(hist)
    undone = next((p for p in pairs if p[0].kind() == "undone"), None)
    shown = pairs[0] if undone is None else undone
    return CheckResult(
        check_id=f"{CHECK_ID}/failover_solvers", title="no verifier V : memory -> {commit, abort} solves failover",
        kind="E", rocq_name="failover_impossible_by_read_cn / transparent_cas_failover_impossible",
        paper_name="failover_impossible_by_read_cn", mode="causal",
        bound={"memories": len(mems), "third_party_ops": max_third}, expected="counterexample",
        verdict=verdict(correct == 0 and bool(pairs)), states=1 << len(mems), unique_states=1 << len(mems),
        max_depth=1 + max_third, complete=True, seconds=sw.seconds,
        counterexample=(f"executed: {list(shown[0].actions)} -> {shown[0].memory.as_dict()}",
                        f"never executed: {list(shown[1].actions)} -> {shown[1].memory.as_dict()}") if pairs else (),
        counterexample_pair=(shown[0].actions, shown[1].actions) if pairs else (),
        diagram=aba_diagram("ABA: same final memory, executed vs never executed", shown).to_json() if pairs else None,
        controls=(Control("with no third party a correct V exists (V(m) = m[a0] == 1)", solo_correct > 0,
                          f"{solo_correct} of {1 << len(mems)} verifiers"),),
        counts={"verifiers": 1 << len(mems), "correct_verifiers": correct, "histories": len(hist),
                "ambiguous_pairs": len(pairs), "correct_on_rocq_declared_histories": declared},
        notes="Rocq's HistExecuted m / HistNotExecuted m are declared for every m (unsatisfiable by construction); "
              "ours are derived from CAS schedules; the counterexample shown is the true ABA (executed, then undone)",
    )


def consensus_protocol(verifier: dict[Memory, bool], shared: Memory, proposed: tuple[int, int], my_id: int) -> int:
    """Rocq ``consensus_protocol F my_id``: commit -> proposed[0], abort -> proposed[1] (my_id unused)."""
    del my_id
    return proposed[0] if verifier.get(shared, False) else proposed[1]


def _validity(verifier: dict[Memory, bool], hist: list[History]) -> tuple[bool, bool]:
    agree = valid = True
    for h in hist:
        for proposed in ((0, 0), (0, 1), (1, 0), (1, 1)):
            d = [consensus_protocol(verifier, h.memory, proposed, i) for i in (0, 1)]
            agree &= d[0] == d[1]
            valid &= d[0] == (proposed[0] if h.executed else proposed[1])
    return agree, valid


def reduction_witness() -> CheckResult:
    """W (constructive ``failover_solver_yields_2consensus``): validity holds iff the verifier is correct."""
    with timed() as sw:
        solo, _ = derive_histories(0)
        verifier = {m: m.read(0) == 1 for m in _memory_domain()}
        agree_solo, valid_solo = _validity(verifier, solo)
        hist, _ = derive_histories(1)
        agree_aba, valid_aba = _validity(verifier, hist)
        wrong = next((h for h in hist if not _validity(verifier, [h])[1]), None)  # where V breaks validity
    ok = agree_solo and valid_solo and agree_aba and not valid_aba
    return CheckResult(
        check_id=f"{CHECK_ID}/reduction_witness", title="a correct verifier would give 2-consensus; ABA breaks it",
        kind="W", rocq_name="failover_solver_yields_2consensus", paper_name="failover_solver_yields_2consensus",
        mode="causal", bound={"third_party_ops": 1}, expected="counterexample", verdict=verdict(ok),
        states=len(solo) + len(hist), unique_states=len(solo) + len(hist), max_depth=2, complete=True,
        seconds=sw.seconds,
        counterexample=() if wrong is None else (
            "V(m) = (m[a0] == 1), correct on every solo history",
            f"{'executed' if wrong.executed else 'never executed'}: {list(wrong.actions)} -> {wrong.memory.as_dict()}",
            f"V says {'commit' if verifier.get(wrong.memory, False) else 'abort'}: the decided value breaks validity"),
        diagram=None if wrong is None else aba_diagram(
            "V = (m[a0] == 1) decides wrongly", (wrong,),
            f"V(m) = {'commit' if verifier.get(wrong.memory, False) else 'abort'}: wrong, validity broken").to_json(),
        counts={"agreement_solo": int(agree_solo), "validity_solo": int(valid_solo),
                "agreement_aba": int(agree_aba), "validity_aba": int(valid_aba)},
        notes="Rocq proves this lemma ex falso (solves_failover is contradictory); here V = (m[a0] == 1) is "
              "correct without third parties (validity holds) and fails once one third-party op is allowed",
    )


def run(bound: int | None = None, mode: str | None = None) -> list[CheckResult]:
    """All Thm 3 evidence; ``bound`` = max third-party ops of the derived ABA histories; ``mode`` is ignored."""
    k = CAS_THIRD_PARTY if bound is None else bound
    return [rocq_rw_check(), fadd_check(), cas_check(), herlihy_check(), past_future_check(), solver_check(k),
            reduction_witness()]
