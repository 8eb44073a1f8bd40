"""``rxe`` / ``nic``: the backend interface of :mod:`shift_core.backend` over rdma-core's pyverbs.

The same SHIFT layer and workloads that run on ``sim`` run here unchanged, on real libibverbs: soft-RoCE
(``rdma_rxe``) inside the project's QEMU guest, or real NICs on a host whose distribution ships
``python3-pyverbs``. Standard library + pyverbs only: Debian's pyverbs loads only into Debian's own python3,
so this package must not need the project's heavy host-side dependencies.

Detection is what real verbs give an application: error work completions from ``CQ.poll`` and async events
(``IBV_EVENT_PORT_ERR`` ...) from ``Context.get_async_event``, made non-blocking by polling the context's
async file descriptor.
"""

from shift_core.verbs.backend import VerbsBackend, open_backend

__all__ = ["VerbsBackend", "open_backend"]
