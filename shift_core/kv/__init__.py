"""Out-of-band key-value stores for SHIFT's attribute exchange (paper §4.2: Redis over the management network).

Keys are a connection's *default* attributes, values its *backup* attributes (see :mod:`shift_core.shift.exchange`).
Three stores share one interface (:class:`~shift_core.kv.store.KVStore`): ``mem://<ns>`` (in-process dict, the
emulator's default), ``sqlite:///<path>`` (several processes on one host),
``dir:///<path>`` (libshift.so's file store) and ``redis://host:port/db`` (the paper's
setup; redis-py is imported only when used). Standard library only, apart from that lazy import.
"""

from shift_core.kv.store import KVStore, KVUnavailable, open_kv

__all__ = ["KVStore", "KVUnavailable", "open_kv"]
