"""The fault matrix (``data/sim/faults/faults.csv``, contract 5) in prose: what each strategy gives up, where it
corrupts, and why a strategy that never retransmits can still corrupt ``buffer_reuse``.

Every number here is counted from the CSV; the prose around them explains the mechanism. The responder's
duplicate-WRITE rule the run used comes from ``faults.json`` (``config.dup_write``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from .markdown import table

OUTCOMES = ("correct", "error_surfaced", "silent_corruption", "stall")


def _pct(n: int, total: int) -> str:
    return f"{100 * n / total:.0f} %" if total else "—"


def _supported(rows: Sequence[dict[str, str]]) -> dict[str, bool]:
    return {r["workload"]: str(r.get("supported", "")).lower() == "true" for r in rows}


def outcome_table(rows: Sequence[dict[str, str]], strategies: Sequence[str]) -> str:
    """Per strategy: outcome shares on supported traffic, and silent corruptions outside it."""
    sup = _supported(rows)
    out = []
    for s in strategies:
        mine = [r for r in rows if r["strategy"] == s]
        inside = Counter(r["outcome"] for r in mine if sup[r["workload"]])
        n_in = sum(inside.values())
        outside = Counter(r["workload"] for r in mine if not sup[r["workload"]] and r["outcome"] == "silent_corruption")
        n_out = Counter(r["workload"] for r in mine if not sup[r["workload"]])
        silent = _pct(inside["silent_corruption"], n_in)
        out.append([f"`{s}`", _pct(inside["correct"], n_in), _pct(inside["error_surfaced"], n_in),
                    f"**{silent}**" if inside["silent_corruption"] else silent,
                    "<br>".join(f"`{w}` {_pct(k, n_out[w])}" for w, k in sorted(outside.items())) or "none"])
    n = sum(1 for r in rows if r["strategy"] == strategies[0] and sup[r["workload"]]) if strategies else 0
    return table(["strategy", "correct", "error surfaced", "silent corruption", "silent corruption outside support"],
                 out, raw=True) + f"\nShares of each strategy's {n:,} runs on supported traffic; the last column is " \
        "the share of runs on each unsupported workload that ended in silent corruption.\n"


def prose(rows: Sequence[dict[str, str]], config: dict[str, Any]) -> str:
    """The fault matrix explained from this run's rows (see the module docstring)."""
    from shift_core.shift.strategy import STRATEGY_TABLE

    strategies = [s for s in STRATEGY_TABLE if any(r["strategy"] == s for r in rows)]
    sup = _supported(rows)
    inside = [w for w in dict.fromkeys(r["workload"] for r in rows) if sup[w]]
    outside = [w for w in dict.fromkeys(r["workload"] for r in rows) if not sup[w]]
    silent: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    runs: Counter[tuple[str, str]] = Counter()
    for r in rows:
        runs[r["strategy"], r["workload"]] += 1
        if r["outcome"] == "silent_corruption":
            silent[r["strategy"], r["workload"]][r["fault"]] += 1
    dup = str(config.get("dup_write", "reexecute"))

    def count(s: str, w: str, faults: bool = False) -> str:
        n = sum(silent[s, w].values())
        by_fault = ", ".join(f"{k} under `{f}`" for f, k in silent[s, w].most_common())
        return f"{n} of {runs[s, w]} runs" + (f" ({by_fault})" if n and faults else "")

    out = (f"The matrix ran {len(rows):,} fault schedules: every strategy against every workload and fault kind "
           "(NIC death, link down, link flap, packet loss, ACK loss, a second failure during failover), each run "
           "judged by the model from its trace and the applications' end state. *Supported* traffic "
           f"({', '.join(f'`{w}`' for w in inside)}) is what SHIFT claims to fail over transparently; the other "
           f"workloads ({', '.join(f'`{w}`' for w in outside)}) are outside its support by design.\n\n")
    out += outcome_table(rows, strategies) + "\n"
    out += "**What each strategy gives up.** "
    parts = []
    for s in strategies:
        st = STRATEGY_TABLE[s]
        parts.append(f"`{s}` gives up {st.gives_up.replace('_', '-')} ({st.summary})")
    out += "; ".join(parts) + ".\n\n"
    atomics = [w for w in outside if w in ("fadd_counter", "cas_lock")]
    if "shift" in strategies and atomics:
        out += ("**Atomics are outside SHIFT's support, and SHIFT says so.** With an atomic in flight SHIFT does not "
                "fail over: its retransmission-safe check surfaces the error to the application (Theorems 2 and 3: "
                "no transparent layer can tell whether the atomic executed). On "
                + " and ".join(f"`{w}`" for w in atomics) + " SHIFT's runs end correct or with the error surfaced, "
                "never silently: " + "; ".join(f"`{w}`: {count('shift', w)} silent" for w in atomics)
                + ". `naive`, which retransmits anyway, double-applies them: "
                + "; ".join(f"`{w}`: {count('naive', w)} silent" for w in atomics) + ".\n\n")
    if "buffer_reuse" in outside:
        out += ("**`buffer_reuse` is Theorem 1's second trace as an application**: the receiver consumes each value "
                "as soon as it lands (the flag is in the data, no later notification) and immediately reuses the "
                "buffer. A retransmission of an older WRITE that lands after the reuse overwrites the new value: "
                "the *ghost write*. No transparent failover can avoid it (Theorem 1), so the workload is outside "
                f"every strategy's support; `shift` corrupts {count('shift', 'buffer_reuse')}, `naive` "
                f"{count('naive', 'buffer_reuse')}, and only `staging`, which gives up zero-copy, is immune "
                f"({count('staging', 'buffer_reuse')}).\n\n")
        out += ("**Why `none` and `receiver_log` corrupt `buffer_reuse` too.** Neither is meant to resend a WRITE "
                "that already executed, yet: `none` " + count("none", "buffer_reuse", True) + "; `receiver_log` "
                + count("receiver_log", "buffer_reuse", True) + ". ")
        if dup == "reexecute":
            out += ("This run's responder rule is `--dup-write reexecute`: the emulated responder NIC executes a "
                    "duplicate WRITE again. When an ACK is lost *inside* RC, the sender NIC's own transport retry "
                    "(same QP, same PSN) re-lands the old payload after the receiver consumed and reused the "
                    "buffer: the ghost write happens in RC itself, with no failover involved"
                    + (" (hence the ACK-loss runs above)" if silent["none", "buffer_reuse"]["ack_loss"] else "")
                    + ". Under `--dup-write ack_only` (what Linux rxe does, citing IB spec "
                    "C9-105: a duplicate SEND or WRITE is acknowledged again, not re-executed) RC's retry cannot "
                    "re-land data, and `none` no longer corrupts `buffer_reuse`. `receiver_log` keeps a few "
                    "corruptions under that rule, after link-down faults: its log is a WRITE posted after each WR, "
                    "so a fault between a WR and its log entry leaves the log behind, and the layer resends an "
                    "executed WR on the backup QP, where the responder cannot recognise the duplicate. Reproduce "
                    "both with `shift faults --profile quick --workload buffer_reuse --dup-write reexecute` and "
                    "`... --dup-write ack_only`.\n\n")
        else:
            out += (f"This run's responder rule is `--dup-write {dup}`: a duplicate WRITE is acknowledged without "
                    "re-executing it, so these corruptions come from a strategy's own resend on the backup QP: for "
                    "`receiver_log`, a WR whose log entry (a WRITE posted after it) the fault cut off.\n\n")
    on_supported = {s: sum(sum(silent[s, w].values()) for w in inside) for s in strategies}
    out += ("**On supported traffic**, silent corruptions per strategy: "
            + ", ".join(f"`{s}` {n}" for s, n in on_supported.items())
            + ". `shift` and `naive` differ exactly where `shift_core.shift.strategy` says: the "
              "retransmission-safe check, the WQ rewind from the first unacknowledged WR, the receive-counter "
              "handshake (against queue sliding, Theorem 2) and the fenced switch-back.\n")
    return out
