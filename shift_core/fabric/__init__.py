"""The embedded ``sim`` backend: a deterministic software RDMA fabric with fault injection.

Modules: :mod:`.env` (discrete-event core), :mod:`.topology` (hosts, NICs, links, switch), :mod:`.transport`
(RC requester/responder), :mod:`.verbs` (pyverbs-shaped objects), :mod:`.injector` (faults at run time),
:mod:`.faults` (validated fault schedules), :mod:`.connect` (QP connection helper), :mod:`.backend`
(``make_fabric``).
"""

from shift_core.fabric.backend import SimBackend, make_fabric
from shift_core.fabric.connect import connect, rc_attr

__all__ = ["SimBackend", "connect", "make_fabric", "rc_attr"]
