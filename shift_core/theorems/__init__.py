"""Bounded checks of every theorem of SHIFT's Appendix A, one module per check id (Rocq ``Lemma1/`` to ``Theorem4/``).

Modules (ids from :data:`shift_core.vocabulary.THEOREM_CHECKS`): :mod:`shift_core.theorems.core_laws`,
:mod:`shift_core.theorems.thm1_indistinguishability`, :mod:`shift_core.theorems.thm2_atomics`,
:mod:`shift_core.theorems.thm2_queue_sliding`, :mod:`shift_core.theorems.thm3_consensus`.
Each has ``run(bound=None, mode=None) -> list[CheckResult]`` with W (witness), E (bounded exhaustive search,
shortest counterexample first, with a positive control) and P (seeded property) evidence.

Entry points:

* Python: ``run_check(check_id, bound=None, mode=None) -> list[CheckResult]`` (ids or aliases ``all``,
  ``thm1``, ``thm2``, ``thm3``), and :func:`shift_core.theorems.runner.run_and_write` to also write JSON.
* Pipeline: ``python -m shift_core.theorems <id|alias> [--out data/theorems] [--bound N] [--mode rocq|causal]``
  writes ``<out>/<id>.json``, ``<out>/rocq_xref.json`` and merges ``<out>/manifest.json``; exit status 1 when an
  expectation fails, 2 on bad arguments.
* CLI: ``shift check [all|thm1|thm2|thm3|<id>|boundary]`` (:mod:`shift_core.cli.check`).
"""

from __future__ import annotations

from shift_core.theorems.runner import run_check

__all__ = ["run_check"]
