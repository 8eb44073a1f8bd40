"""Fixtures of the backend conformance suite: a backend and a connected RC QP pair between two "hosts".

The same tests run on ``sim`` in the host's test run and on ``rxe`` INSIDE the guest (Debian python3 +
python3-pyverbs + python3-pytest), where the session fixture of ``tests/rdma/conftest.py`` runs them. Devices:
host A primary, A backup, B primary, B backup (rxe: rxe_p0 rxe_b0 rxe_p1 rxe_b1 from setup.sh; sim: h0.nic0
h0.nic1 h1.nic0 h1.nic1). Tests that need a real link (``ip link``) are marked ``rxe_link`` and skip on sim.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from rxe_helpers import BACKEND, DEVICES, Side, connect, make_side, open_backend


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "rxe_link: needs a real link to take down (ip link / netem in the rxe guest)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if BACKEND == "rxe":
        return
    skip = pytest.mark.skip(reason=f"needs a real link (ip link / netem) in the rxe guest; backend is {BACKEND}")
    for item in items:
        if item.get_closest_marker("rxe_link"):
            item.add_marker(skip)


@pytest.fixture
def backend() -> Any:
    b = open_backend()
    b.recorder.clear()
    return b


@pytest.fixture
def pair(backend: Any) -> Iterator[tuple[Side, Side]]:
    """Connected RC QPs, host A primary -> host B primary."""
    a, c = make_side(backend, DEVICES[0]), make_side(backend, DEVICES[2])
    connect(backend, a, c)
    yield a, c
    a.close()
    c.close()
