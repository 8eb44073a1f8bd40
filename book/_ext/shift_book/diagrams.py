"""SHIFT's state machines and the Trilemma map, drawn as plain SVG from the code's own tables.

The state-machine figure is computed from ``shift_core.shift.machine.SQ_TRANSITIONS`` / ``RQ_TRANSITIONS``
(the single source of truth that the Python layer and the C core use), so the book cannot drift from the code:
states are laid out in breadth-first order from the first state, terminal states (no outgoing transition) on a
second row, forward steps as straight arrows, backward steps as arcs above, and steps into a terminal state as
lines down to it.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Mapping
from html import escape
from typing import Any

_NODE_W, _NODE_H, _GAP = 136, 34, 250


def _t(x: float, y: float, s: str, size: int = 12, anchor: str = "middle", fill: str = "#1f2328",
       weight: str = "normal") -> str:
    return (f'<text x="{x:.0f}" y="{y:.0f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}" '
            f'font-weight="{weight}" font-family="DejaVu Sans, Helvetica, sans-serif">{escape(s)}</text>')


def _order(transitions: Mapping[tuple[Any, Any], Any]) -> tuple[list[enum.Enum], list[enum.Enum]]:
    """Non-terminal states in BFS order from the first state, then terminal states."""
    first: enum.Enum = next(iter(transitions))[0]
    states: list[enum.Enum] = list(type(first))
    out: dict[enum.Enum, list[enum.Enum]] = {s: [] for s in states}
    for (src, _ev), dst in transitions.items():
        out[src].append(dst)
    terminal = [s for s in states if not out[s]]
    seen: list[enum.Enum] = []
    queue = deque([states[0]])
    while queue:
        s = queue.popleft()
        if s in seen or s in terminal:
            continue
        seen.append(s)
        queue.extend(out[s])
    seen += [s for s in states if s not in seen and s not in terminal]
    return seen, terminal


def state_machine_svg(transitions: Mapping[tuple[Any, Any], Any], title: str) -> str:
    """An SVG drawing of one transition table (every entry is drawn and labelled with its event)."""
    row, terminal = _order(transitions)
    col = {s: i for i, s in enumerate(row)}
    width = max(len(row), 2) * _GAP + 80
    spans = [abs(col[d] - col[s]) for (s, _e), d in transitions.items() if d in col and col[d] <= col[s]]
    arc_room = 34 * (max(spans, default=0) + 1) + 30
    y_row = 40 + arc_room
    y_term = y_row + 150
    height = (y_term + 50) if terminal else (y_row + 60)
    xs = {s: 60 + _GAP / 2 + i * _GAP - _GAP / 2 + _NODE_W / 2 for s, i in col.items()}
    for i, s in enumerate(terminal):
        xs[s] = width / 2 + (i - (len(terminal) - 1) / 2) * _GAP
    ys = {s: (y_term if s in terminal else y_row) for s in xs}
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height}" '
             f'viewBox="0 0 {width:.0f} {height}" role="img" aria-label="{escape(title)}">',
             '<defs><marker id="sm" markerWidth="10" markerHeight="8" refX="9" refY="4" orient="auto">'
             '<path d="M0,0 L10,4 L0,8 z" fill="#57606a"/></marker></defs>',
             f'<rect width="{width:.0f}" height="{height}" fill="#ffffff"/>',
             _t(width / 2, 20, title, size=14, weight="bold")]
    edges: dict[tuple[enum.Enum, enum.Enum], list[str]] = {}
    for (src, ev), dst in transitions.items():  # parallel transitions share one arrow, labels stacked
        edges.setdefault((src, dst), []).append(ev.value if isinstance(ev.value, str) else ev.name.lower())
    for (src, dst), labels in edges.items():
        x1, y1, x2, y2 = xs[src], ys[src], xs[dst], ys[dst]
        label = " / ".join(labels)
        if src == dst:
            top = y1 - _NODE_H / 2
            parts.append(f'<path d="M{x1 - 18:.0f},{top} C{x1 - 40:.0f},{top - 46} {x1 + 40:.0f},{top - 46} '
                         f'{x1 + 18:.0f},{top}" fill="none" stroke="#57606a" stroke-width="1.6" '
                         f'marker-end="url(#sm)"/>')
            parts.append(_t(x1, top - 40, label, size=11, fill="#0550ae"))
        elif dst in terminal:
            # each line ends at its own point of the terminal box's top edge; its label sits near the source
            x2 = x2 + max(-_NODE_W / 2 + 10, min(_NODE_W / 2 - 10, (x1 - x2) * 0.25))
            sy, ey = y1 + _NODE_H / 2, y2 - _NODE_H / 2
            parts.append(f'<line x1="{x1:.0f}" y1="{sy}" x2="{x2:.0f}" y2="{ey}" stroke="#cf222e" '
                         f'stroke-width="1.4" stroke-dasharray="5,3" marker-end="url(#sm)"/>')
            lx, ly = x1 + (x2 - x1) * 0.2, sy + (ey - sy) * 0.2
            for i, text in enumerate(labels):
                parts.append(_t(lx + (6 if x2 >= x1 else -6), ly + 12 * i, text, size=10, fill="#cf222e",
                                anchor="start" if x2 >= x1 else "end"))
        elif col[dst] == col[src] + 1:
            parts.append(f'<line x1="{x1 + _NODE_W / 2:.0f}" y1="{y1}" x2="{x2 - _NODE_W / 2:.0f}" y2="{y2}" '
                         f'stroke="#0969da" stroke-width="2" marker-end="url(#sm)"/>')
            for i, text in enumerate(reversed(labels)):
                parts.append(_t((x1 + x2) / 2, y1 - 7 - 13 * i, text, size=11, fill="#0550ae"))
        else:
            span = abs(col[dst] - col[src])
            h = 34 * span + 10
            top = y1 - _NODE_H / 2
            sx, ex = (x1 - 16, x2 + 16) if col[dst] < col[src] else (x1 + 16, x2 - 16)
            mid = (sx + ex) / 2
            parts.append(f'<path d="M{sx:.0f},{top} Q{mid:.0f},{top - 2 * h} {ex:.0f},{top}" fill="none" '
                         f'stroke="#8250df" stroke-width="1.6" marker-end="url(#sm)"/>')
            parts.append(_t(mid, top - h - 4, label, size=11, fill="#8250df"))
    for s, x in xs.items():
        y = ys[s]
        fill, stroke = ("#ffebe9", "#cf222e") if s in terminal else ("#ddf4ff", "#0969da")
        parts.append(f'<rect x="{x - _NODE_W / 2:.0f}" y="{y - _NODE_H / 2:.0f}" width="{_NODE_W}" '
                     f'height="{_NODE_H}" rx="8" fill="{fill}" stroke="{stroke}" stroke-width="1.6"/>')
        parts.append(_t(x, y + 4, s.name, size=12, weight="bold"))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


#: where each Trilemma property sits on the triangle (top, bottom-left, bottom-right)
_CORNERS = {"exactly_once": (420.0, 70.0), "receiver_opacity": (240.0, 370.0), "zero_copy": (600.0, 370.0)}


def trilemma_svg(gives_up: Mapping[str, str]) -> str:
    """The Trilemma triangle with each strategy outside the side joining the two properties it keeps.

    :param gives_up: strategy name -> the Trilemma property it gives up (or anything else, e.g. ``continuity``,
        for a strategy that keeps all three by not failing over; those are listed under the triangle).
    """
    width, height = 860, 500
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="The Trilemma">',
             f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
             _t(width / 2, 22, "No cross-NIC failover keeps all three", size=15, weight="bold")]
    pts = " ".join(f"{x:.0f},{y:.0f}" for x, y in _CORNERS.values())
    parts.append(f'<polygon points="{pts}" fill="#ddf4ff" fill-opacity="0.5" stroke="#0969da" stroke-width="2.5"/>')
    cx = sum(x for x, _ in _CORNERS.values()) / 3
    cy = sum(y for _, y in _CORNERS.values()) / 3
    for name, (x, y) in _CORNERS.items():
        parts.append(f'<circle cx="{x:.0f}" cy="{y:.0f}" r="8" fill="#0969da"/>')
        parts.append(_t(x, y + (-16 if y < cy else 30), name.replace("_", "-"), size=15, weight="bold",
                        fill="#0550ae"))
    on_side: dict[str, list[str]] = {}
    outside: list[str] = []
    for strategy, prop in gives_up.items():
        (on_side.setdefault(prop, []) if prop in _CORNERS else outside).append(strategy)
    for prop, strategies in on_side.items():
        (ax, ay), (bx, by) = [_CORNERS[p] for p in _CORNERS if p != prop]
        mx, my = (ax + bx) / 2, (ay + by) / 2
        nx, ny = mx - cx, my - cy
        norm = (nx * nx + ny * ny) ** 0.5 or 1.0
        nx, ny = nx / norm, ny / norm
        anchor = "end" if nx < -0.3 else "start" if nx > 0.3 else "middle"
        x0, y0 = mx + nx * 18, my + ny * 18 + (36 if ny > 0.5 else 0)  # below the corner labels
        for i, strategy in enumerate(strategies):
            parts.append(_t(x0, y0 + 18 * i, f"{strategy}: gives up {prop.replace('_', '-')}", size=13,
                            anchor=anchor, fill="#8250df", weight="bold"))
    for i, strategy in enumerate(outside):
        parts.append(_t(width / 2, height - 16 - 18 * i, f"{strategy}: gives up {gives_up[strategy]} "
                                                         "(no failover: the job stops)", size=13, fill="#cf222e"))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
