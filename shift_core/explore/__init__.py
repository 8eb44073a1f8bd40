"""Systematic fault exploration of the real SHIFT code on the ``sim`` fabric (``shift explore``).

Not a separate model: every run is :func:`shift_core.bench.workloads.run_failover` of the real layer
(:mod:`shift_core.shift`) and strategies over the deterministic fabric, judged by
:func:`shift_core.bench.judge.judge` (the model's predicates plus end-to-end checks). A fault-free *census* run
records every injectable point (each request message and each response on the wire, with what the layer sent it
for, and each machine state a host enters); then one run per placement of one fault at each point, and, at a
smaller bound, one run per pair (a first fault that makes the layer fail over, then a second fault at every
point of *that* run's own census: a control message, a state of the failover machine...). The fabric is
deterministic, so a placement names one exact run and its schedule replays it
(``shift fabric run --schedule``).

Modules: :mod:`.schedule` (the replayable schedule: run section + fault list), :mod:`.runner` (one run with its
census), :mod:`.placements` (points -> placements), :mod:`.search` (single and pair enumeration),
:mod:`.expectations` (expected outcome per cell, as data), :mod:`.coverage` (the machine's (state, event)
pairs), :mod:`.controls` (deliberately broken strategy variants: the positive control), :mod:`.report` (tables
and files).
"""
