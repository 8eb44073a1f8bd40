"""The two trace universes of Thm 1 (Rocq ``Lemma1/`` + ``Theorem1/``), compiled to integer automata.

``rocq``: every finite list of events over the one-operation alphabet, exactly what Rocq's
``SystemSafety``/``SystemLiveness`` (HEAD) and ``ProvidesSafety``/``ProvidesLiveness`` (paper era, e3e862e)
quantify over; obligations apply to every trace. ``causal``: the traces the :mod:`shift_core.model.causal`
automaton accepts (the physical reading); obligations apply at the *decision point*, i.e. to traces that end
with the op's ``Timeout`` -- the overlay decides when the RC timer fires, so later events cannot inform it.

A trace is abstracted to ``(view, hidden)``: ``view`` is its sender view (interned in a trie) and ``hidden``
is the finite summary the obligations and the future depend on (the causal automaton state, and the flags
sent / executed / timed out / reused / at-decision-point). That summary is a bisimulation quotient of the
trace universe, so a BFS over ``(view, hidden)`` with depth = trace length finds every fibre's obligations
and, per fibre and obligation, a shortest witness trace. States are packed into one ``int``
(``view_id * H + hidden_id``) and successors come from per-hidden-state tables built once, which is what
makes the search fast (see ``tests/theorems/test_benchmark.py``).

Letters are tried in Rocq's ``Event`` constructor order (``Core/Traces.v``: Send, Timeout, Completion,
PacketLost, AckLost, Receive, Execute, AppConsume, AppReuse); that order is the tie-break among equally
short witnesses.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from shift_core.model.causal import CausalState, step
from shift_core.model.events import (
    AckLost,
    AppConsume,
    AppReuse,
    Completion,
    Event,
    Execute,
    PacketLost,
    Receive,
    Send,
    SenderObs,
    Timeout,
    View,
    observe,
)
from shift_core.model.memory import INIT_MEMORY
from shift_core.model.operations import Op, exec_op, is_non_idempotent

Mode = Literal["rocq", "causal"]
Statement = Literal["head", "paper"]
MODES: tuple[Mode, ...] = ("rocq", "causal")

MUST_RETRY = 1  #: liveness premise holds (sent, not executed, timed out)
MUST_SKIP = 2  #: safety premise holds (HEAD: non-idempotent, executed, timed out; paper: executed + reused)


class Letter(enum.IntEnum):
    """One event kind of the single-op alphabet, in Rocq ``Event`` constructor order."""

    SEND = 0
    TIMEOUT = 1
    COMPLETION = 2
    PACKET_LOST = 3
    ACK_LOST = 4
    RECEIVE = 5
    EXECUTE = 6
    APP_CONSUME = 7
    APP_REUSE = 8


@dataclass(frozen=True, slots=True)
class Universe:
    """A one-operation trace universe.

    :param op: the operation every event concerns (Rocq fixes one ``op`` per theorem instance).
    :param mode: ``rocq`` (unfiltered) or ``causal`` (automaton + decision points).
    :param statement: ``head`` (a6e39e0 ``SystemSafety``: never retry an executed FADD/CAS at a timeout) or
        ``paper`` (e3e862e ``ProvidesSafety``: never retry an executed op once the app reused the buffer,
        the "ghost write").
    :param app: ``(addr, consumed value, reused value)`` of the receiver application's events.
    """

    op: Op
    mode: Mode
    statement: Statement
    app: tuple[int, int, int] = (0, 1, 2)

    def describe(self) -> str:
        return f"{self.statement} statement, {self.mode} universe, op {self.op}"


@dataclass(frozen=True, slots=True)
class _Hidden:
    automaton: CausalState | None  # None in the rocq universe
    sent: bool = False
    executed: bool = False
    timed_out: bool = False
    reused: bool = False
    at_decision: bool = False


@dataclass(slots=True)
class Compiled:
    """Integer tables of one universe: hidden states, successor lists, obligations, observation ids."""

    universe: Universe
    hidden: list[_Hidden]
    succ: list[list[tuple[int, int, int]]]  # per hidden id: (letter, hidden id', obs id or -1)
    events: list[dict[int, Event]]  # per hidden id: letter -> concrete event
    oblig: list[int]  # per hidden id: MUST_RETRY | MUST_SKIP bits
    executed: list[bool]  # per hidden id, for the oracle overlay
    obs: list[SenderObs] = field(default_factory=list)


def _event(u: Universe, h: _Hidden, letter: Letter) -> Event | None:
    """The concrete event a letter denotes in hidden state ``h`` (results follow ``exec_op`` when causal)."""
    op, (addr, consumed, reused) = u.op, u.app
    first_res = exec_op(INIT_MEMORY, op)[1]
    if letter is Letter.EXECUTE:
        res = first_res if h.automaton is None else exec_op(h.automaton.memory, op)[1]
        return Execute(op, res)
    if letter is Letter.COMPLETION:
        if h.automaton is None:
            return Completion(op, first_res)
        last = h.automaton.result(op)
        return None if last is None else Completion(op, last)
    simple: dict[Letter, Event] = {
        Letter.SEND: Send(op), Letter.TIMEOUT: Timeout(op), Letter.PACKET_LOST: PacketLost(op),
        Letter.ACK_LOST: AckLost(op), Letter.RECEIVE: Receive(op), Letter.APP_CONSUME: AppConsume(addr, consumed),
        Letter.APP_REUSE: AppReuse(addr, reused),
    }
    return simple[letter]


def _obligations(u: Universe, h: _Hidden) -> int:
    """Rocq's premises on one trace summary (HEAD ``SystemSafety``/``SystemLiveness``, paper ``Provides*``)."""
    if u.mode == "causal" and not h.at_decision:
        return 0
    bits = 0
    if h.sent and not h.executed and h.timed_out:
        bits |= MUST_RETRY
    if u.statement == "head":
        if is_non_idempotent(u.op) and h.executed and h.timed_out:
            bits |= MUST_SKIP
    elif h.executed and h.reused:
        bits |= MUST_SKIP
    return bits


def _next(u: Universe, h: _Hidden, ev: Event) -> _Hidden | None:
    automaton = None
    if h.automaton is not None:
        automaton = step(h.automaton, ev)
        if automaton is None:
            return None
    return _Hidden(
        automaton=automaton,
        sent=h.sent or isinstance(ev, Send),
        executed=h.executed or isinstance(ev, Execute),
        timed_out=h.timed_out or isinstance(ev, Timeout),
        reused=h.reused or isinstance(ev, AppReuse),
        at_decision=automaton is not None and isinstance(ev, Timeout),
    )


def compile_universe(u: Universe, depth: int) -> Compiled:
    """Build the hidden automaton reachable within ``depth`` letters, with its successor tables."""
    init = _Hidden(automaton=CausalState() if u.mode == "causal" else None)
    ids: dict[_Hidden, int] = {init: 0}
    hidden = [init]
    obs_ids: dict[SenderObs, int] = {}
    obs_list: list[SenderObs] = []
    succ: list[list[tuple[int, int, int]]] = []
    events: list[dict[int, Event]] = []
    frontier = [0]
    for _ in range(depth):
        nxt: list[int] = []
        for hid in frontier:
            while len(succ) <= hid:
                succ.append([])
                events.append({})
            h = hidden[hid]
            for letter in Letter:
                ev = _event(u, h, letter)
                h2 = None if ev is None else _next(u, h, ev)
                if ev is None or h2 is None:
                    continue
                if h2 not in ids:
                    ids[h2] = len(hidden)
                    hidden.append(h2)
                    nxt.append(ids[h2])
                o = observe(ev)
                oid = -1
                if o is not None:
                    if o not in obs_ids:
                        obs_ids[o] = len(obs_list)
                        obs_list.append(o)
                    oid = obs_ids[o]
                succ[hid].append((int(letter), ids[h2], oid))
                events[hid][int(letter)] = ev
        frontier = nxt
    while len(succ) < len(hidden):
        succ.append([])
        events.append({})
    return Compiled(u, hidden, succ, events, [_obligations(u, h) for h in hidden],
                    [h.executed for h in hidden], obs_list)


@dataclass(frozen=True, slots=True)
class FibreSearch:
    """What one bounded BFS over a universe found.

    :param states: distinct ``(view, hidden)`` states explored; ``views``: distinct sender views (fibres).
    :param traces: event sequences of length <= depth in the universe (counted on the hidden automaton).
    :param conflicting_views: fibres carrying both a liveness (retry) and a safety (skip) obligation.
    :param first_pair: the shortest conflicting pair ``(retry witness, skip witness)`` found first, or ``None``.
    :param fibre_obligations: per view, the obligation bits (for decider enumeration).
    :param oracle_states: states on which the oracle overlay (retry iff not executed) was checked;
        ``oracle_ok``: it met every obligation there.
    """

    universe: Universe
    depth: int
    states: int
    views: int
    traces: int
    conflicting_views: int
    first_pair: tuple[tuple[Event, ...], tuple[Event, ...]] | None
    fibre_obligations: dict[View, int]
    oracle_states: int
    oracle_ok: bool
    max_depth: int


def count_traces(c: Compiled, depth: int) -> int:
    """Number of letter sequences of length <= depth accepted by the universe (layered DP on hidden ids)."""
    layer = {0: 1}
    total = 1
    for _ in range(depth):
        nxt: dict[int, int] = {}
        for hid, n in layer.items():
            for _letter, h2, _o in c.succ[hid]:
                nxt[h2] = nxt.get(h2, 0) + n
        layer = nxt
        total += sum(nxt.values())
    return total


def explore(u: Universe, depth: int, *, keep_views: bool = True) -> FibreSearch:
    """BFS over ``(view, hidden)`` up to ``depth`` events; shortest conflicting pair first.

    With ``keep_views=False`` the per-view obligation map is not materialised (benchmarks at large depth).
    """
    c = compile_universe(u, depth)
    n_hidden = len(c.hidden)
    n_letters = len(Letter)
    k = max(1, len(c.obs))
    succ, oblig, executed = c.succ, c.oblig, c.executed
    trie: dict[int, int] = {}
    vparent: list[int] = [-1]
    parent: dict[int, int] = {0: -1}
    fib: dict[int, int] = {}
    witness: dict[tuple[int, int], int] = {}
    conflicts = 0
    first: tuple[int, int] | None = None
    oracle_states = 0
    oracle_ok = True
    # split each hidden state's successors: hidden events keep the view (s2 = s + dh), visible ones extend it
    hidden_moves = [[(letter, h2 - h) for letter, h2, o in succ[h] if o < 0] for h in range(n_hidden)]
    visible_moves = [[(letter, h2, o) for letter, h2, o in succ[h] if o >= 0] for h in range(n_hidden)]
    oracle_bad = [bool(ob & MUST_RETRY and executed[h]) or bool(ob & MUST_SKIP and not executed[h])
                  for h, ob in enumerate(oblig)]
    obligated: list[int] = []  # new states carrying an obligation, in BFS order (scanned after each level)
    frontier = [0]
    reached = 0
    for d in range(1, depth + 1):
        nxt: list[int] = []
        append = nxt.append
        for s in frontier:
            v, h = divmod(s, n_hidden)
            for letter, dh in hidden_moves[h]:
                s2 = s + dh
                if s2 not in parent:
                    parent[s2] = s * n_letters + letter
                    append(s2)
            base = v * k
            for letter, h2, o in visible_moves[h]:
                key = base + o
                v2 = trie.get(key, -1)
                if v2 < 0:
                    v2 = len(vparent)
                    trie[key] = v2
                    vparent.append(key)
                s2 = v2 * n_hidden + h2
                if s2 not in parent:
                    parent[s2] = s * n_letters + letter
                    append(s2)
        obligated = [s2 for s2 in nxt if oblig[s2 % n_hidden]]
        for s2 in obligated:
            v2, h2 = divmod(s2, n_hidden)
            ob = oblig[h2]
            oracle_states += 1
            oracle_ok = oracle_ok and not oracle_bad[h2]
            old = fib.get(v2, 0)
            if ob & ~old:
                for bit in (MUST_RETRY, MUST_SKIP):
                    if ob & bit and not old & bit:
                        witness[(v2, bit)] = s2
                fib[v2] = old | ob
                if old | ob == 3:
                    conflicts += 1
                    if first is None:
                        first = (witness[(v2, MUST_RETRY)], witness[(v2, MUST_SKIP)])
        if nxt:
            reached = d
        frontier = nxt
    pair = None
    if first is not None:
        pair = (_replay(c, parent, first[0], n_hidden, n_letters), _replay(c, parent, first[1], n_hidden, n_letters))
    fibres: dict[View, int] = {}
    if keep_views:
        view_of = _views(c, vparent, k)
        fibres = {view_of[v]: fib.get(v, 0) for v in range(len(vparent))}
    return FibreSearch(u, depth, len(parent), len(vparent), count_traces(c, depth), conflicts, pair, fibres,
                       oracle_states, oracle_ok, reached)


def _views(c: Compiled, vparent: list[int], k: int) -> list[View]:
    out: list[View] = [()]
    for v in range(1, len(vparent)):
        pv, o = divmod(vparent[v], k)
        out.append((*out[pv], c.obs[o]))
    return out


def _replay(c: Compiled, parent: dict[int, int], s: int, n_hidden: int, n_letters: int) -> tuple[Event, ...]:
    letters: list[int] = []
    while parent[s] >= 0:
        s, letter = divmod(parent[s], n_letters)
        letters.append(letter)
    letters.reverse()
    out: list[Event] = []
    h = 0
    for letter in letters:
        out.append(c.events[h][letter])
        h = next(h2 for lt, h2, _o in c.succ[h] if lt == letter)
    return tuple(out)


def traces_in_fibre(u: Universe, view: View, obligation: int, length: int) -> Iterator[tuple[Event, ...]]:
    """Every trace of exactly ``length`` events whose view is ``view`` and that carries ``obligation``.

    Explicit enumeration (no state merging), for listing *all* minimal witnesses of a fibre.
    """
    c = compile_universe(u, length)

    def dfs(h: int, seen: int, acc: list[Event]) -> Iterator[tuple[Event, ...]]:
        if len(acc) == length:
            if seen == len(view) and c.oblig[h] & obligation:
                yield tuple(acc)
            return
        for letter, h2, o in c.succ[h]:
            ev = c.events[h][letter]
            if o >= 0:
                if seen >= len(view) or c.obs[o] != view[seen]:
                    continue
                acc.append(ev)
                yield from dfs(h2, seen + 1, acc)
            else:
                acc.append(ev)
                yield from dfs(h2, seen, acc)
            acc.pop()

    yield from dfs(0, 0, [])


def obligations_of(u: Universe, trace: tuple[Event, ...]) -> int | None:
    """The obligation bits of one concrete trace, or ``None`` if the trace is outside the universe."""
    h: _Hidden | None = _Hidden(automaton=CausalState() if u.mode == "causal" else None)
    for ev in trace:
        assert h is not None
        h = _next(u, h, ev)
        if h is None:
            return None
    assert h is not None
    return _obligations(u, h)

