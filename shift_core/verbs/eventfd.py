"""Non-blocking async/completion events: find the fd libibverbs opened and poll it with ``select``.

pyverbs' ``Context.get_async_event`` and ``CompChannel.get_cq_event`` block in ``read(2)`` and do not expose
their file descriptors (rdma-core 44). Both are uverbs event files whose ``/proc/self/fd`` link is
``anon_inode:[infinibandevent]``; the one that appears while an object is created belongs to it. With the fd
we can ask "is an event pending?" without blocking, so detection runs in the application's own poll loop
(SHIFT's design) instead of in a helper thread or process.
"""

from __future__ import annotations

import fcntl
import os
import select

_TAG = "[infinibandevent]"


def event_fds() -> set[int]:
    """The process's open uverbs event files."""
    out: set[int] = set()
    for name in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{name}").endswith(_TAG):
                out.add(int(name))
        except OSError:
            continue  # the fd of the listdir itself, or one closed meanwhile
    return out


def new_event_fd(before: set[int]) -> int | None:
    """The event fd created since ``before`` (set non-blocking), or ``None`` if there is not exactly one."""
    fresh = event_fds() - before
    if len(fresh) != 1:
        return None
    fd = fresh.pop()
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
    return fd


def readable(fd: int | None, timeout_s: float = 0.0) -> bool:
    """True when an event is pending on ``fd`` (waiting at most ``timeout_s``)."""
    if fd is None:
        return False
    r, _, _ = select.select([fd], [], [], timeout_s)
    return bool(r)
