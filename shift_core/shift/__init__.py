"""SHIFT, cross-NIC RDMA failover, over the backend interface (paper §4), and the Trilemma's other corners.

Modules: :mod:`.machine` (the per-QP transition table), :mod:`.strategy` (none, naive, shift, receiver_log,
staging and the property each gives up), :mod:`.lib` (setup phase: shadow control verbs, KV exchange),
:mod:`.exchange` (KV keys), :mod:`.cq` (WC buffer), :mod:`.qp` (data phase: outstanding set, safe check,
WQ rewind, receive-counter handshake, probe, fenced switch-back), :mod:`.mailbox` (handshake message),
:mod:`.staging` (the staging strategy), :mod:`.wrid` (work-request ids), :mod:`.record` (what a run did).
Standard library only: the same code runs over ``sim`` and over pyverbs on rxe or real NICs.
"""
