"""The executable trace model of RDMA failover: the judge of every run (Rocq ``Core/*.v``).

Paper-to-Rocq numbering, written once: the appendix's Theorem 1 (indistinguishability) is Rocq
``Lemma1/`` + ``Theorem1/``; Theorem 2 (non-idempotency: FADD, CAS, queue sliding) is ``Lemma2/`` (queue
sliding has no Rocq counterpart); Theorem 3 (consensus barrier) is ``Theorem4/``. Rocq pinned at
``a6e39e0`` (HEAD); the paper's names come from ``e3e862e``. The per-definition cross-reference is data:
:mod:`shift_core.model.xref`.

Modules:

- :mod:`shift_core.model.memory`, :mod:`shift_core.model.operations`, :mod:`shift_core.model.events` (traces,
  sender view), :mod:`shift_core.model.properties` (counts, safety/liveness, overlays);
- :mod:`shift_core.model.causal` (the ``causal`` universe's automaton), :mod:`shift_core.model.universes` (the
  ``rocq`` and ``causal`` trace universes of Thm 1 as integer automata, and their BFS);
- :mod:`shift_core.model.explore` (a generic shortest-path-first BFS), :mod:`shift_core.model.diagram`
  (counterexamples as sequence diagrams), :mod:`shift_core.model.xref` (the Rocq/paper/Python table),
  :mod:`shift_core.model.check` (the result record).

The model imports nothing else of the project.
"""
