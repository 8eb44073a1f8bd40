"""Paper Thm 1: no transparent overlay retransmits safely (Rocq ``Lemma1/`` + ``Theorem1/Impossibility.v``).

Rocq HEAD (a6e39e0) proves ``indistinguishability_universal`` (T1 packet loss and T2 ACK loss share the
sender view [Sent, Timeout]) and ``impossibility_main`` (no transparent overlay meets ``SystemSafety`` and
``SystemLiveness`` once a FADD/CAS exists). The paper quotes the paper-era names ``sender_views_equal`` and
``impossibility_safe_retransmission`` (e3e862e), whose statement is about a WRITE whose buffer the receiver
consumed and reused (the "ghost write"). We check both statements:

* W -- the Rocq/paper witnesses: equal views, executed in T2 only.
* E -- a BFS over every trace up to the bound in the ``rocq`` and the ``causal`` universe
  (:mod:`shift_core.model.universes`), grouping traces by sender view; a fibre holding a trace that must be
  retried (liveness) and one that must not (safety) refutes every transparent overlay. Shortest pair first.
  Positive controls: the oracle overlay (it sees the whole trace) meets every obligation; under HEAD's
  definitions a lone WRITE has no conflicting fibre, so "always retry" is safe and live.
* E -- all 2^k transparent deciders on a tiny bound, enumerated one by one: none is safe and live.
* P -- seeded random traces: the view is a list homomorphism, hidden events never change it, and a lifted
  ``D'`` is transparent.
"""

from __future__ import annotations

import itertools
import random

from shift_core.model.check import CheckResult, Control
from shift_core.model.diagram import pair_diagram, trace_labels
from shift_core.model.events import (
    AckLost,
    AppConsume,
    AppReuse,
    Event,
    Execute,
    PacketLost,
    Receive,
    Send,
    Timeout,
    View,
    op_executed,
    sender_view,
)
from shift_core.model.memory import INIT_MEMORY
from shift_core.model.operations import CAS, FADD, Op, Write, WriteAck, exec_op
from shift_core.model.properties import is_transparent_on, lift
from shift_core.model.universes import (
    MODES,
    MUST_RETRY,
    MUST_SKIP,
    Letter,
    Mode,
    Statement,
    Universe,
    compile_universe,
    explore,
    traces_in_fibre,
)
from shift_core.theorems.evidence import timed, verdict

CHECK_ID = "thm1_indistinguishability"
DEFAULT_BOUND: dict[Mode, int] = {"causal": 8, "rocq": 6}  #: max trace length per universe
DECIDER_BOUND: dict[Mode, int] = {"causal": 7, "rocq": 3}  #: tiny bounds for enumerating every decider
PROPERTY_SAMPLES = 2000
SEED = 20251211

FADD_OP = FADD(0, 1)
CAS_OP = CAS(0, 0, 1)
WRITE_OP = Write(0, 1)  #: the paper's W(A_data, V1) with A_data = 0, V1 = 1; the app then writes V' = 2

#: (statement, op) instances of the E search: HEAD's two non-idempotent ops and the paper's ghost write
INSTANCES: tuple[tuple[Statement, Op], ...] = (("head", FADD_OP), ("head", CAS_OP), ("paper", WRITE_OP))


def t1_packet_loss(op: Op) -> tuple[Event, ...]:
    """Rocq ``T1_packet_loss op`` = [Send, PacketLost, Timeout]."""
    return (Send(op), PacketLost(op), Timeout(op))


def t2_ack_loss(op: Op) -> tuple[Event, ...]:
    """Rocq ``T2_ack_loss op res`` = [Send, Receive, Execute, AckLost, Timeout] (res from ``exec_op``)."""
    return (Send(op), Receive(op), Execute(op, exec_op(INIT_MEMORY, op)[1]), AckLost(op), Timeout(op))


def t2_paper(op: Write = WRITE_OP, reused: int = 2) -> tuple[Event, ...]:
    """The paper's T2 (Appendix A.2): [Send, Receive, Execute, AppConsume, AppReuse(V'), AckLost, Timeout]."""
    return (Send(op), Receive(op), Execute(op, WriteAck()), AppConsume(op.addr, op.val), AppReuse(op.addr, reused),
            AckLost(op), Timeout(op))


def t2_concrete_paper_era(op: Write = WRITE_OP, reused: int = 2) -> tuple[Event, ...]:
    """Rocq e3e862e ``T2_concrete``: like the paper's T2 but without AppConsume."""
    return (Send(op), Receive(op), Execute(op, WriteAck()), AppReuse(op.addr, reused), AckLost(op), Timeout(op))


def seed_pair(statement: Statement, op: Op) -> tuple[tuple[Event, ...], tuple[Event, ...]]:
    """The witness pair the causal search must find first: Rocq's (HEAD) or the paper's (ghost write)."""
    if statement == "paper":
        return t1_packet_loss(op), t2_paper()
    return t1_packet_loss(op), t2_ack_loss(op)


def _op_name(op: Op) -> str:
    return type(op).__name__.lower()


def lemma1_witness() -> CheckResult:
    """W: ``indistinguishability_universal`` / ``sender_views_equal`` on the Rocq and paper witnesses."""
    with timed() as sw:
        pairs = [(t1_packet_loss(op), t2_ack_loss(op), op) for op in (FADD_OP, CAS_OP, WRITE_OP)]
        pairs += [(t1_packet_loss(WRITE_OP), t2_concrete_paper_era(), WRITE_OP),
                  (t1_packet_loss(WRITE_OP), t2_paper(), WRITE_OP)]
        ok = [sender_view(t1) == sender_view(t2) and not op_executed(t1, op) and op_executed(t2, op)
              for t1, t2, op in pairs]
    t1, t2 = t1_packet_loss(FADD_OP), t2_ack_loss(FADD_OP)
    return CheckResult(
        check_id=f"{CHECK_ID}/lemma1_witness", title="T1 (packet lost) and T2 (ACK lost) share the sender view",
        kind="W", rocq_name="indistinguishability_universal", paper_name="sender_views_equal", mode="rocq",
        bound={"pairs": len(pairs)}, expected="counterexample", verdict=verdict(all(ok)), states=len(pairs),
        unique_states=len(pairs), max_depth=max(len(p[1]) for p in pairs), complete=True, seconds=sw.seconds,
        counterexample=trace_labels(t2), counterexample_pair=(trace_labels(t1), trace_labels(t2)),
        counts={"pairs": len(pairs), "conflicting_pairs": sum(ok)},
        notes="Rocq T1_packet_loss/T2_ack_loss for FADD, CAS and WRITE; e3e862e T2_concrete (reuse, no consume); "
              "the paper's T2 (consume + reuse). All share [Sent, Timeout].",
        diagram=pair_diagram("Thm 1 witness: same sender view", t1, t2).to_json(),
    )


def zero_copy_concrete() -> CheckResult:
    """W + E: Rocq ``zero_copy_failover_impossible_concrete`` -- the e3e862e ghost-write pair, still at HEAD:
    equal views, and both deciders on that one view fail (retry t1 and skip t2 cannot both hold)."""
    t1, t2 = t1_packet_loss(WRITE_OP), t2_concrete_paper_era()
    with timed() as sw:
        same = sender_view(t1) == sender_view(t2)
        views = sorted({sender_view(t1), sender_view(t2)}, key=repr)
        deciders = [dict(zip(views, bits, strict=True)) for bits in itertools.product((True, False), repeat=len(views))]
        ok_deciders = [d for d in deciders if d[sender_view(t1)] and not d[sender_view(t2)]]
    return CheckResult(
        check_id=f"{CHECK_ID}/zero_copy_concrete", title="the ghost-write pair: one view, no decision works",
        kind="W", rocq_name="zero_copy_failover_impossible_concrete", paper_name="", mode="rocq",
        bound={"views": len(views)}, expected="counterexample", verdict=verdict(same and not ok_deciders),
        states=len(deciders), unique_states=len(deciders), max_depth=len(t2), complete=True, seconds=sw.seconds,
        counterexample=trace_labels(t2), counterexample_pair=(trace_labels(t1), trace_labels(t2)),
        counts={"deciders": len(deciders), "deciders_retry_t1_and_skip_t2": len(ok_deciders)},
        notes="Rocq T2 here has AppReuse without AppConsume, so it is outside the causal universe",
        diagram=pair_diagram("Rocq zero_copy_failover_impossible_concrete", t1, t2).to_json(),
    )


def _no_conflict_control(mode: Mode, bound: int) -> Control:
    """HEAD's definitions constrain only FADD/CAS: for a lone WRITE 'always retry' is safe and live."""
    r = explore(Universe(WRITE_OP, mode, "head"), bound)
    always_retry_ok = all(not ob & MUST_SKIP for ob in r.fibre_obligations.values())
    return Control("always-retry is safe+live for a lone WRITE under HEAD's SystemSafety",
                   always_retry_ok and r.conflicting_views == 0,
                   f"{r.states} states, {r.views} views, {r.conflicting_views} conflicting")


def search(statement: Statement, op: Op, mode: Mode, bound: int) -> CheckResult:
    """E: BFS over the universe; the shortest conflicting fibre refutes every transparent overlay."""
    u = Universe(op, mode, statement)
    with timed() as sw:
        r = explore(u, bound)
    controls = [Control("oracle overlay (retry iff not executed; sees the whole trace) meets every obligation",
                        r.oracle_ok and r.oracle_states > 0, f"checked on {r.oracle_states} obligated states")]
    if statement == "head":
        controls.append(_no_conflict_control(mode, bound))
    counts = {"traces": r.traces, "views": r.views, "conflicting_views": r.conflicting_views,
              "obligated_states": r.oracle_states}
    notes = u.describe()
    pair = r.first_pair
    if pair is not None and mode == "causal":
        s1, s2 = seed_pair(statement, op)
        counts["first_pair_is_seed"] = int(pair == (s1, s2))
        minimal = list(traces_in_fibre(u, sender_view(pair[1]), MUST_SKIP, len(pair[1])))
        counts["minimal_skip_witnesses"] = len(minimal)
        counts["seed_among_minimal"] = int(s2 in minimal)
        notes += (f"; first pair {'equals' if pair == (s1, s2) else 'differs from'} the seed pair; "
                  f"{len(minimal)} minimal skip witness(es) of length {len(pair[1])} in that fibre")
        if pair != (s1, s2) and s2 in minimal:
            notes += ("; the seed's T2 is one of them: they differ only in where the hidden AckLost falls "
                      "relative to the app's consume/reuse, and the search breaks ties by Rocq's Event "
                      "constructor order (AckLost before AppConsume)")
    elif pair is not None:
        notes += "; rocq quantifies over non-physical traces, so the shortest pair is shorter than the seed's"
    name = "impossibility_main" if statement == "head" else "impossibility_safe_retransmission (e3e862e)"
    return CheckResult(
        check_id=f"{CHECK_ID}/{statement}_{_op_name(op)}_{mode}",
        title=f"no transparent overlay is safe and live ({statement} statement, {_op_name(op).upper()}, {mode})",
        kind="E", rocq_name=name, paper_name="impossibility_safe_retransmission", mode=mode,
        bound={"max_trace_length": bound}, expected="counterexample", verdict=verdict(pair is not None),
        states=r.states, unique_states=r.states, max_depth=r.max_depth, complete=True, seconds=sw.seconds,
        counterexample=trace_labels(pair[1]) if pair else (),
        counterexample_pair=(trace_labels(pair[0]), trace_labels(pair[1])) if pair else (),
        controls=tuple(controls), counts=counts, notes=notes,
        diagram=pair_diagram(f"Thm 1 ({statement}, {mode}): retry needed vs retry forbidden", *pair).to_json()
        if pair else None,
    )


def conflicting_views(u: Universe, bound: int) -> list[View]:
    """Views carrying both obligations (every decider fails on each), shortest first."""
    fibres = explore(u, bound).fibre_obligations
    return sorted((v for v, ob in fibres.items() if ob == MUST_RETRY | MUST_SKIP), key=lambda v: (len(v), repr(v)))


def enumerate_deciders(u: Universe, bound: int) -> tuple[int, int, int, int]:
    """Try every D' : views -> {retry, skip}; return (#views, #safe, #live, #safe and live).

    Only views that carry an obligation are enumerated: a decision on any other view can violate neither
    property, so each of the 2^k deciders here stands for a class of deciders on all views.
    """
    fibres = explore(u, bound).fibre_obligations
    views: list[View] = sorted((v for v, ob in fibres.items() if ob), key=lambda v: (len(v), repr(v)))
    skip_mask = sum(1 << i for i, v in enumerate(views) if fibres[v] & MUST_SKIP)
    retry_mask = sum(1 << i for i, v in enumerate(views) if fibres[v] & MUST_RETRY)
    safe = live = both = 0
    for decide in range(1 << len(views)):  # bit i set = retry on views[i]
        is_safe = not decide & skip_mask
        is_live = retry_mask & ~decide == 0
        safe += is_safe
        live += is_live
        both += is_safe and is_live
    return len(views), safe, live, both


def deciders(mode: Mode, bound: int) -> CheckResult:
    """E: enumerate all 2^k transparent deciders on a tiny bound (FADD, HEAD statement)."""
    with timed() as sw:
        k, safe, live, both = enumerate_deciders(Universe(FADD_OP, mode, "head"), bound)
        wk, _ws, _wl, wboth = enumerate_deciders(Universe(WRITE_OP, mode, "head"), bound)
        both_views = conflicting_views(Universe(FADD_OP, mode, "head"), bound)
    shown = [", ".join(type(o).__name__.removeprefix("Obs") for o in v) for v in both_views[:1]]
    return CheckResult(
        check_id=f"{CHECK_ID}/deciders_{mode}", title=f"every transparent decider fails ({mode}, tiny bound)",
        kind="E", rocq_name="impossibility_main", paper_name="impossibility_safe_retransmission", mode=mode,
        bound={"max_trace_length": bound}, expected="counterexample", verdict=verdict(both == 0 and k > 0),
        states=2**k, unique_states=2**k, max_depth=bound, complete=True, seconds=sw.seconds,
        counterexample=tuple(f"view [{v}] must be retried (liveness) and skipped (safety)" for v in shown),
        controls=(Control("the same enumeration finds safe+live deciders for a lone WRITE under HEAD", wboth > 0,
                          f"{wboth} of {2**wk} deciders over {wk} views"),),
        counts={"views": k, "deciders": 2**k, "safe": safe, "live": live, "safe_and_live": both},
        notes="states = deciders tried: every function from the obligated views to {retry, skip} (a decision on "
              "an unobligated view cannot violate safety or liveness)",
    )


def _random_trace(rng: random.Random, op: Op, n: int) -> tuple[Event, ...]:
    u = Universe(op, "rocq", "head")
    c = compile_universe(u, 1)
    letters = list(Letter)
    return tuple(c.events[0][int(rng.choice(letters))] for _ in range(n))


def view_properties(samples: int = PROPERTY_SAMPLES, seed: int = SEED) -> CheckResult:
    """P: sender_view is a homomorphism, blind to hidden events; lift(D') is transparent (seeded samples)."""
    rng = random.Random(seed)
    failures: list[str] = []
    traces: list[tuple[Event, ...]] = []
    with timed() as sw:
        for _ in range(samples):
            t1 = _random_trace(rng, FADD_OP, rng.randint(0, 6))
            t2 = _random_trace(rng, FADD_OP, rng.randint(0, 6))
            traces.append(t1)
            if sender_view(t1 + t2) != sender_view(t1) + sender_view(t2):
                failures.append("homomorphism")
            hidden = (PacketLost(FADD_OP), AckLost(FADD_OP), Receive(FADD_OP), AppReuse(0, 2))
            i = rng.randint(0, len(t1))
            if sender_view((*t1[:i], rng.choice(hidden), *t1[i:])) != sender_view(t1):
                failures.append("hidden insertion")
        table = {v: rng.random() < 0.5 for v in {sender_view(t) for t in traces}}
        transparent = is_transparent_on(lift(lambda v, _op: table[v]), traces, (FADD_OP,))
    return CheckResult(
        check_id=f"{CHECK_ID}/view_properties", title="sender_view: homomorphism, blind to hidden events",
        kind="P", rocq_name="sender_view / IsTransparent", paper_name="", mode="rocq",
        bound={"samples": samples, "seed": seed, "max_trace_length": 6}, expected="holds",
        verdict=verdict(bool(failures) or not transparent), states=samples, unique_states=len(set(traces)),
        max_depth=6, complete=True, seconds=sw.seconds,
        counts={"samples": samples, "failures": len(failures)},
        notes="seeded random sampling (stdlib); the hypothesis versions live in tests/theorems/",
    )


def run(bound: int | None = None, mode: Mode | None = None) -> list[CheckResult]:
    """All Thm 1 evidence; ``bound`` overrides the max trace length of the E searches, ``mode`` picks one."""
    modes: tuple[Mode, ...] = MODES if mode is None else (mode,)
    out = [lemma1_witness(), zero_copy_concrete()]
    for m in modes:
        n = DEFAULT_BOUND[m] if bound is None else bound
        out += [search(st, op, m, n) for st, op in INSTANCES]
        out.append(deciders(m, DECIDER_BOUND[m]))
    out.append(view_properties())
    return out
