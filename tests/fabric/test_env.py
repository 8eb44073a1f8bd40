"""The discrete-event core: time order, FIFO ties, priorities, run(until)."""

from __future__ import annotations

import pytest

from shift_core.fabric.env import NORMAL, URGENT, EmptySchedule, Environment


def test_order_ties_and_priorities() -> None:
    env = Environment()
    log: list[str] = []
    env.schedule(10, log.append, "b")
    env.schedule(5, log.append, "a")
    env.schedule(10, log.append, "c")
    env.schedule(10, log.append, "fault", priority=URGENT)
    env.run()
    assert log == ["a", "fault", "b", "c"] and env.now == 10
    with pytest.raises(EmptySchedule):
        env.step()


def test_run_until_and_timers() -> None:
    env = Environment()
    log: list[int] = []
    t = env.timer(100, log.append, 1)
    env.schedule(50, log.append, 2, priority=NORMAL)
    env.run(until_ns=60)
    assert log == [2] and env.now == 60 and env.peek() == 100
    t.cancel()
    env.run(until_ns=200)
    assert log == [2] and env.now == 200
    with pytest.raises(ValueError):
        env.run(until_ns=10)
    with pytest.raises(ValueError):
        env.schedule(-1, log.append, 3)
