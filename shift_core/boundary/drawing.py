"""Boundary counterexamples as drawable sequence diagrams (:class:`shift_core.model.diagram.Diagram`).

Lanes are the protocol's roles: ``sender`` (the data sender and its NIC), ``nic`` (the responder NIC executing
the WRs of the failing QP) and ``receiver`` (the data receiver). A post is an arrow from the posting lane to the
NIC, a completion an arrow back, an execution a note on the NIC, the fault + failover a note across every lane,
and an application read or reuse a note on its lane. Built from the printable steps (``[lane] text``) stored in
the CheckResult, so a record on disk can be drawn without re-running the search.
"""

from __future__ import annotations

from collections.abc import Sequence

from shift_core.model.diagram import TRACE_LANES, Diagram, Step


def parse(label: str) -> tuple[str, str]:
    """``"[nic     ] qp0 ..."`` -> ``("nic", "qp0 ...")``."""
    lane, _, text = label.partition("] ")
    return lane.strip("[ "), text


def diagram(title: str, labels: Sequence[str]) -> Diagram:
    """The sequence diagram of one counterexample given as printable steps."""
    parsed = [parse(x) for x in labels]
    requester = next((lane for lane, text in parsed if "post_send" in text), "sender")
    steps = []
    for lane, text in parsed:
        if lane not in TRACE_LANES:
            steps.append(Step("*", "*", text))
        elif "post_send" in text:
            steps.append(Step(lane, "nic", text))
        elif lane == "nic" and "completion" in text:
            steps.append(Step("nic", requester, text))
        elif lane == "nic" and "path fails" in text:
            steps.append(Step("*", "*", text))
        else:
            steps.append(Step(lane, lane, text))
    return Diagram(title, TRACE_LANES, tuple(steps))
