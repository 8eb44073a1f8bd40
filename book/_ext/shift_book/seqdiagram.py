"""Counterexamples drawn as sequence diagrams (plain SVG, no JavaScript), lanes left to right.

The drawable form is ``shift_core.model.diagram.Diagram.to_json()``: ``{"title", "lanes", "steps": [{"src",
"dst", "label", "lost"}]}``; an arrow when ``src != dst`` (a lost message stops short with a red cross), a note
on a lane when ``src == dst``, a note across every lane when ``src`` is ``"*"``, and a separator band across the
picture for a label ``--- text ---`` (how ``pair_diagram`` separates two traces). A record that stores only its
counterexample's event labels (``CheckResult.counterexample``) is mapped onto the model's trace lanes ``sender``
/ ``nic`` (the responder NIC) / ``receiver`` (the responder application) by :func:`steps_from_labels`, with the
same placement as ``shift_core.model.diagram``. :func:`is_trace` says whether labels are such a trace (or an
``actor: action`` schedule); anything else (a decider table, a proof step) is shown as text, never drawn as an
invented arrow.

Text is never cut: a label too long for the room it has wraps onto more lines and its row grows. The picture is
drawn at the width the book shows it (560 px, the text column of a 1280 px wide window), so 12 px text stays
12 px on the page.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from html import escape
from typing import Any

TRACE_LANES = ("sender", "nic", "receiver")
LANE_TITLES = {"sender": "sender (requester + NIC)", "nic": "responder NIC", "receiver": "receiver app"}

#: event kind (leading word of a label) -> (src, dst, lost), as in ``shift_core.model.diagram._trace_step``
_PLACE: dict[str, tuple[str, str, bool]] = {
    "send": ("sender", "nic", False),
    "retry": ("sender", "nic", False),
    "packetlost": ("sender", "nic", True),
    "acklost": ("nic", "sender", True),
    "completion": ("nic", "sender", False),
    "receive": ("nic", "nic", False),
    "execute": ("nic", "nic", False),
    "postrecv": ("receiver", "nic", False),
    "appconsume": ("receiver", "receiver", False),
    "appreuse": ("receiver", "receiver", False),
    "timeout": ("sender", "sender", False),
    "fault": ("sender", "sender", False),
}
_ACTOR = re.compile(r"\s*([A-Za-z][A-Za-z0-9]*):\s")
_KIND = re.compile(r"\s*(?:\d+\s*[.:)]\s*)?(?:Ev)?([A-Za-z_]+)\(")
_SEPARATOR = re.compile(r"^\s*-{3}\s*(.*?)\s*-{3}\s*$")

WIDTH, MARGIN, TOP = 560, 10, 66  #: picture width (px, the book column at 1280 px), side margin, y of 1st step
FONT, CHAR_W, LINE_H = 12, 7.3, 15  #: monospace label size, its advance per character, line height


def _kind(label: str) -> str:
    m = _KIND.match(label)
    return m.group(1).lower().replace("_", "") if m else ""


def is_trace(labels: Sequence[str]) -> bool:
    """Whether ``labels`` is a drawable counterexample: model events (``Send(WRITE(a0,1))``...) or a schedule
    whose every label reads ``<actor>: <action>`` (the CAS searches)."""
    if not labels:
        return False
    return all(_kind(label) in _PLACE for label in labels) or all(_ACTOR.match(label) for label in labels)


def from_labels(labels: Sequence[str], title: str) -> dict[str, Any]:
    """A drawable diagram for a counterexample stored as labels (see :func:`is_trace`).

    Labels that all read ``<actor>: <action>`` become one lane per actor plus ``memory``, as
    ``shift_core.model.diagram.schedule_diagram`` draws them; anything else goes on the trace lanes.
    """
    actors = [m.group(1) for m in (_ACTOR.match(label) for label in labels) if m]
    if labels and len(actors) == len(labels):
        lanes = [*dict.fromkeys(actors), "memory"]
        steps = [{"src": a, "dst": "memory", "label": label.split(":", 1)[1].strip(), "lost": False}
                 for a, label in zip(actors, labels, strict=True)]
        return {"title": title, "lanes": lanes, "steps": steps}
    return {"title": title, "lanes": list(TRACE_LANES), "steps": steps_from_labels(labels)}


def steps_from_labels(labels: Sequence[str]) -> list[dict[str, Any]]:
    """Diagram steps for a counterexample given as event labels (``Send(WRITE(a0,1))``...)."""
    out: list[dict[str, Any]] = []
    for label in labels:
        src, dst, lost = _PLACE.get(_kind(label), ("*", "*", False))
        out.append({"src": src, "dst": dst, "label": label, "lost": lost})
    return out


def wrap(text: str, width_px: float) -> list[str]:
    """``text`` broken into lines of at most ``width_px`` (at :data:`CHAR_W` per character), preferring breaks
    after spaces, commas, semicolons and ``->``; a word longer than a line is split, never dropped."""
    limit = max(8, int(width_px / CHAR_W))
    words = re.findall(r"\S+\s*", text) or [""]
    lines: list[str] = []
    line = ""
    for word in words:
        while len(word.rstrip()) > limit:  # a single overlong token: hard split
            if line:
                lines.append(line.rstrip())
                line = ""
            lines.append(word[:limit])
            word = word[limit:]
        if len((line + word).rstrip()) > limit and line:
            lines.append(line.rstrip())
            line = ""
        line += word
    lines.append(line.rstrip())
    return [ln for ln in lines if ln] or [""]


def _text(x: float, y: float, lines: Sequence[str], *, size: int = FONT, weight: str = "normal",
          fill: str = "#1f2328", anchor: str = "middle", halo: bool = False) -> str:
    style = ' stroke="#ffffff" stroke-width="4" paint-order="stroke" stroke-linejoin="round"' if halo else ""
    spans = "".join(f'<tspan x="{x:.0f}" dy="{0 if i == 0 else LINE_H}">{escape(s)}</tspan>'
                    for i, s in enumerate(lines))
    return (f'<text x="{x:.0f}" y="{y:.0f}" text-anchor="{anchor}" font-size="{size}" font-weight="{weight}" '
            f'fill="{fill}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace"{style}>{spans}</text>')


def render(diagram: dict[str, Any]) -> str:
    """The SVG document of one diagram (``Diagram.to_json`` shape); steps are numbered top to bottom."""
    title = str(diagram.get("title", ""))
    lanes = [str(lane) for lane in diagram.get("lanes") or TRACE_LANES]
    steps = list(diagram.get("steps") or [])
    lane_w = (WIDTH - 2 * MARGIN) / len(lanes)
    xs = {lane: MARGIN + lane_w * (i + 0.5) for i, lane in enumerate(lanes)}
    inner = WIDTH - 2 * MARGIN
    title_lines = wrap(title, inner)
    head_y = 14 + LINE_H * len(title_lines)
    body: list[str] = []
    y = TOP + head_y - 30
    number = 0
    for step in steps:
        src, dst = str(step.get("src", "*")), str(step.get("dst", "*"))
        raw = str(step.get("label", ""))
        sep = _SEPARATOR.match(raw)
        if sep:  # a band across the picture: "--- T2 (same sender view) ---"
            lines = wrap(sep.group(1), inner - 16)
            h = 10 + LINE_H * len(lines)
            body.append(f'<rect x="{MARGIN}" y="{y:.0f}" width="{inner:.0f}" height="{h}" fill="#eaeef2"/>')
            body.append(_text(WIDTH / 2, y + 15, lines, weight="bold", fill="#424a53"))
            y += h + 10
            continue
        number += 1
        label = f"{number}. {raw}"
        lost = bool(step.get("lost"))
        color = "#cf222e" if lost else "#0969da"
        if src in xs and dst in xs and src != dst:
            x1, x2 = xs[src], xs[dst]
            room = max(abs(x2 - x1) - 12, min(inner, 2 * min((x1 + x2) / 2 - MARGIN, WIDTH - MARGIN - (x1 + x2) / 2)))
            lines = wrap(label, room)
            text_w = max(len(s) for s in lines) * CHAR_W
            cx = min(max((x1 + x2) / 2, MARGIN + text_w / 2), WIDTH - MARGIN - text_w / 2)
            top = y + 12
            body.append(_text(cx, top, lines, fill=color, halo=True))
            ay = top + LINE_H * (len(lines) - 1) + 9
            xe = x1 + (x2 - x1) * (0.72 if lost else 1.0)
            dash = ' stroke-dasharray="6,3"' if lost else ' marker-end="url(#head)"'
            body.append(f'<line x1="{x1:.0f}" y1="{ay:.0f}" x2="{xe:.0f}" y2="{ay:.0f}" stroke="{color}" '
                        f'stroke-width="2"{dash}/>')
            if lost:
                body.append(f'<path d="M{xe - 6:.0f},{ay - 6:.0f} l12,12 M{xe - 6:.0f},{ay + 6:.0f} l12,-12" '
                            'stroke="#cf222e" stroke-width="3"/>')
            y = ay + 14
        else:
            across = src not in xs
            lines = wrap(label, inner - 16)
            w = inner if across else min(max(lane_w - 12, max(len(s) for s in lines) * CHAR_W + 16), inner)
            x = WIDTH / 2 if across else min(max(xs[src], MARGIN + w / 2), WIDTH - MARGIN - w / 2)
            h = 10 + LINE_H * len(lines)
            fill, stroke = ("#f6f8fa", "#8c959f") if across else ("#fff8c5", "#bf8700")
            body.append(f'<rect x="{x - w / 2:.0f}" y="{y:.0f}" width="{w:.0f}" height="{h}" rx="5" '
                        f'fill="{fill}" stroke="{stroke}"/>')
            body.append(_text(x, y + 16, lines))
            y += h + 8
    height = int(y + 10)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}">',
        '<defs><marker id="head" markerWidth="10" markerHeight="8" refX="9" refY="4" orient="auto">'
        '<path d="M0,0 L10,4 L0,8 z" fill="#57606a"/></marker></defs>',
        f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
        _text(WIDTH / 2, 18, title_lines, size=13, weight="bold"),
    ]
    for lane, x in xs.items():
        name = wrap(LANE_TITLES.get(lane, lane), lane_w - 20)
        box_h = 8 + LINE_H * len(name)
        parts.append(f'<rect x="{x - lane_w / 2 + 6:.0f}" y="{head_y:.0f}" width="{lane_w - 12:.0f}" '
                     f'height="{box_h}" rx="4" fill="#ddf4ff" stroke="#54aeff"/>')
        parts.append(_text(x, head_y + 15, name, weight="bold"))
        parts.append(f'<line x1="{x:.0f}" y1="{head_y + box_h:.0f}" x2="{x:.0f}" y2="{height - 6}" '
                     'stroke="#afb8c1" stroke-dasharray="4,4"/>')
    parts += body
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
