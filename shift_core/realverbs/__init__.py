"""The real-verbs benchmark suite between two hosts (backend ``rxe`` on soft-RoCE, ``nic`` on real NICs).

Two halves with one rule between them: the per-host half (:mod:`.agent` and everything it imports) runs under
the distribution's ``python3`` next to its ``python3-pyverbs`` and needs the standard library only; the
controller half (:mod:`.transport`, :mod:`.suite`, :mod:`.results`) runs in the project's environment,
reaches both hosts over ssh (or runs the host side locally) and writes ``data/<backend>/`` in the sim's shapes.
"""
