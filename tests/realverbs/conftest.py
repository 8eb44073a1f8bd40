"""Fixtures of the real-verbs suite's host-side tests (no RDMA needed)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shift_core.realverbs.channel import Channel, listen


@pytest.fixture
def pair() -> Iterator[tuple[Channel, Channel]]:
    """(host, peer) ends of a real TCP connection on loopback, as the agents use over the management network."""
    srv = listen("127.0.0.1")
    host = Channel.connect("127.0.0.1", srv.getsockname()[1])
    conn, _ = srv.accept()
    srv.close()
    yield host, Channel(conn)
    host.close()
