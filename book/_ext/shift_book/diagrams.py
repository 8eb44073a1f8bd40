"""SHIFT's state machines and the Trilemma map, drawn as plain SVG from the code's own tables.

The state-machine figure is computed from ``shift_core.shift.machine.SQ_TRANSITIONS`` / ``RQ_TRANSITIONS``
(the single source of truth that the Python layer and the C core use), so the book cannot drift from the code.
Layout, top to bottom so that every label has room at the page's width: the non-terminal states in a column in
breadth-first order from the first state, forward steps as arrows down the column (events to their right),
backward steps as arcs on the left (events written along them), self-loops under the box's right-hand corner, and
terminal states (no outgoing transition) in a second column, reached by dashed lines. Labels carry a white halo
and are nudged until none overlaps another label or a state box. Text is 12-13 px at the size the book shows
the picture.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Mapping
from html import escape
from typing import Any

_NODE_W, _NODE_H, _ROW = 136, 36, 104
_FONT, _CHAR_W = 12, 7.0


def _t(x: float, y: float, s: str, size: int = _FONT, anchor: str = "middle", fill: str = "#1f2328",
       weight: str = "normal", halo: bool = False) -> str:
    style = ' stroke="#ffffff" stroke-width="4" paint-order="stroke" stroke-linejoin="round"' if halo else ""
    return (f'<text x="{x:.0f}" y="{y:.0f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}" '
            f'font-weight="{weight}" font-family="DejaVu Sans, Helvetica, sans-serif"{style}>{escape(s)}</text>')


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


class _Labels:
    """Places text blocks so that none overlaps a placed block or an obstacle (state boxes)."""

    def __init__(self, obstacles: list[tuple[float, float, float, float]]) -> None:
        self.boxes = list(obstacles)
        self.parts: list[str] = []

    def place(self, x: float, y: float, lines: list[str], anchor: str, fill: str, vertical: bool = False) -> None:
        """``lines`` at (x, y); ``vertical``: one line rotated to run up along a vertical stroke, centred."""
        w = max(len(s) for s in lines) * _CHAR_W + 6
        h = 14 * len(lines)
        if vertical:
            text = " / ".join(lines)
            self.boxes.append((x - 8, y - len(text) * _CHAR_W / 2, x + 8, y + len(text) * _CHAR_W / 2))
            self.parts.append(_t(x, y, text, fill=fill, halo=True).replace(
                "<text ", f'<text transform="rotate(-90 {x:.0f} {y:.0f})" dy="4" ', 1))
            return
        x0 = x - w / 2 if anchor == "middle" else x if anchor == "start" else x - w
        for dy in (0, 12, -12, 24, -24, 36, -36, 48, -48, 60):
            box = (x0, y + dy - 11, x0 + w, y + dy - 11 + h)
            if not any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in self.boxes):
                break
        self.boxes.append(box)
        for i, text in enumerate(lines):
            self.parts.append(_t(x, y + dy + 14 * i, text, anchor=anchor, fill=fill, halo=True))


def state_machine_svg(transitions: Mapping[tuple[Any, Any], Any], title: str) -> str:
    """An SVG drawing of one transition table (every entry is drawn and labelled with its event)."""
    row, terminal = _order(transitions)
    idx = {s: i for i, s in enumerate(row)}
    edges: dict[tuple[enum.Enum, enum.Enum], list[str]] = {}
    for (src, ev), dst in transitions.items():  # parallel transitions share one arrow, labels stacked
        edges.setdefault((src, dst), []).append(ev.value if isinstance(ev.value, str) else ev.name.lower())
    back = [abs(idx[d] - idx[s]) for (s, d) in edges if d in idx and s != d and idx[d] != idx[s] + 1]
    offset = {span: 16 + 40 * span for span in range(1, max(back, default=0) + 1)}
    left = 30 + max(offset.values(), default=0) * 0.75
    cx = left + _NODE_W / 2
    tx = cx + _NODE_W / 2 + 150 + _NODE_W / 2 if terminal else cx
    width = int((tx + _NODE_W / 2 + 20) if terminal else (cx + _NODE_W / 2 + 170))
    top = 56
    ys = {s: top + _NODE_H / 2 + i * _ROW for s, i in idx.items()}
    xs = {s: cx for s in row}
    span_y = (ys[row[0]], ys[row[-1]])
    for i, s in enumerate(terminal):
        xs[s] = tx
        ys[s] = (span_y[0] + span_y[1]) / 2 + (i - (len(terminal) - 1) / 2) * _ROW
    height = int(max(ys.values()) + _NODE_H / 2 + 46)
    boxes = [(xs[s] - _NODE_W / 2, ys[s] - _NODE_H / 2, xs[s] + _NODE_W / 2, ys[s] + _NODE_H / 2) for s in xs]
    labels = _Labels(boxes)
    lines: list[str] = []
    for (src, dst), events in edges.items():
        x1, y1, x2, y2 = xs[src], ys[src], xs[dst], ys[dst]
        if src == dst:  # self-loop below the box's right-hand corner
            rx, by = x1 + _NODE_W / 2 - 30, y1 + _NODE_H / 2
            lines.append(f'<path d="M{rx:.0f},{by:.0f} C{rx - 6:.0f},{by + 40:.0f} {rx + 54:.0f},{by + 30:.0f} '
                         f'{rx + 30:.0f},{by - 8:.0f}" fill="none" stroke="#0969da" stroke-width="1.6" '
                         f'marker-end="url(#sm)"/>')
            labels.place(rx + 46, by + 26, events, "start", "#0550ae")
        elif dst in terminal:
            sources = sorted((s for (s, d) in edges if d == dst and s != d), key=lambda s: ys[s])
            n = sources.index(src)  # endpoints in the sources' top-to-bottom order, so no two lines cross
            sources_n = len(sources)
            ex = x2 - _NODE_W / 2
            ey = y2 - _NODE_H / 2 + 6 + (_NODE_H - 12) * (n / max(sources_n - 1, 1))
            sx = x1 + _NODE_W / 2
            lines.append(f'<line x1="{sx:.0f}" y1="{y1:.0f}" x2="{ex:.0f}" y2="{ey:.0f}" stroke="#cf222e" '
                         f'stroke-width="1.4" stroke-dasharray="5,3" marker-end="url(#sm)"/>')
            # beside the line's start, on the side the line leaves: above a line going down, below one going up
            ly = y1 - 8 - 14 * (len(events) - 1) if ey >= y1 else y1 + 18
            labels.place(sx + 6, ly, events, "start", "#a40e26")
        elif idx[dst] == idx[src] + 1:  # forward, straight down the column
            lines.append(f'<line x1="{x1:.0f}" y1="{y1 + _NODE_H / 2:.0f}" x2="{x2:.0f}" '
                         f'y2="{y2 - _NODE_H / 2:.0f}" stroke="#0969da" stroke-width="2" marker-end="url(#sm)"/>')
            labels.place(x1 + 8, (y1 + y2) / 2 - 7 * (len(events) - 1) + 4, events, "start", "#0550ae")
        else:  # backward (or skipping) arcs on the left
            off = offset[abs(idx[dst] - idx[src])]
            bx = x1 - _NODE_W / 2
            sy, ey = y1 + (-8 if y2 < y1 else 8), y2 + (8 if y2 < y1 else -8)
            lines.append(f'<path d="M{bx:.0f},{sy:.0f} C{bx - off:.0f},{sy:.0f} {bx - off:.0f},{ey:.0f} '
                         f'{bx - 2:.0f},{ey:.0f}" fill="none" stroke="#8250df" stroke-width="1.6" '
                         f'marker-end="url(#sm)"/>')
            labels.place(bx - off * 0.75, (sy + ey) / 2, events, "middle", "#6639ba", vertical=True)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
             '<defs><marker id="sm" markerWidth="10" markerHeight="8" refX="9" refY="4" orient="auto">'
             '<path d="M0,0 L10,4 L0,8 z" fill="#57606a"/></marker></defs>',
             f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
             _t(width / 2, 24, title, size=14, weight="bold"), *lines]
    for s, x in xs.items():
        y = ys[s]
        fill, stroke = ("#ffebe9", "#cf222e") if s in terminal else ("#ddf4ff", "#0969da")
        parts.append(f'<rect x="{x - _NODE_W / 2:.0f}" y="{y - _NODE_H / 2:.0f}" width="{_NODE_W}" '
                     f'height="{_NODE_H}" rx="8" fill="{fill}" stroke="{stroke}" stroke-width="1.6"/>')
        parts.append(_t(x, y + 5, s.name, size=13, weight="bold"))
    parts += labels.parts
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
