"""The generic BFS returns shortest paths, counts distinct states, and says when it stopped early."""

from __future__ import annotations

from collections.abc import Iterator

from shift_core.model.explore import bfs


def _succ(n: int) -> Iterator[tuple[str, int]]:
    yield "+1", n + 1
    yield "*2", n * 2


def test_shortest_path_and_counts() -> None:
    ex = bfs([1], _succ, max_depth=4)
    target = ex.first(lambda n: n == 8)
    assert target == 8
    assert ex.path(8) == ("+1", "*2", "*2")  # 1 -> 2 -> 4 -> 8 (the '+1' edge is tried first at 1)
    assert ex.depth[8] == 3 and ex.complete
    assert ex.unique_states == len(set(ex.order)) and ex.generated >= ex.unique_states
    assert ex.max_depth == 4


def test_state_cap_marks_incomplete() -> None:
    ex = bfs([1], _succ, max_depth=10, max_states=5)
    assert not ex.complete and ex.unique_states == 5


def test_no_match_returns_none() -> None:
    assert bfs([1], _succ, max_depth=2).first(lambda n: n > 100) is None
