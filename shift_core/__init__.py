"""shift_core: the executable artifact for SHIFT (arXiv 2512.11094).

Layers, lowest first (a lower layer never imports a higher one; see DESIGN notes in the README):

- :mod:`shift_core.model`     -- the trace model of RDMA failover (the judge of every run).
- :mod:`shift_core.theorems`  -- bounded exhaustive checks, witnesses and properties, one module per result.
- :mod:`shift_core.boundary`  -- the protocol boundary (paper Table 1) derived by model checking.
- :mod:`shift_core.backend`   -- the small, typed, pyverbs-shaped backend interface.
- :mod:`shift_core.fabric`    -- ``sim``: the emulated RDMA fabric (the embedded default backend).
- :mod:`shift_core.verbs`     -- ``rxe`` / ``nic``: the pyverbs backend.
- :mod:`shift_core.shift`     -- SHIFT and the alternative failover strategies.
- :mod:`shift_core.bench`     -- workloads, fault schedules, runners.

The model, backend interface, SHIFT layer, verbs backend and workloads import only the standard library,
so they run on a guest's or NIC host's distribution python3 next to Debian's python3-pyverbs.
"""

__version__ = "0.1.0"
