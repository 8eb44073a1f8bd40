"""Counterexamples drawn as sequence diagrams (plain SVG, no JavaScript), lanes left to right.

The drawable form is ``shift_core.model.diagram.Diagram.to_json()``: ``{"title", "lanes", "steps": [{"src",
"dst", "label", "lost"}]}``; an arrow when ``src != dst`` (a lost message stops short with a red cross), a note
on a lane when ``src == dst``, and a note across every lane when ``src`` is ``"*"``. A record that stores only
its counterexample's event labels (``CheckResult.counterexample``) is mapped onto the model's trace lanes
``sender`` / ``nic`` (the responder NIC) / ``receiver`` (the responder application) by :func:`steps_from_labels`,
with the same placement as ``shift_core.model.diagram``; a label whose event kind is not recognised becomes a
note across all lanes with its text verbatim, so the diagram never invents an arrow.
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

_ROW, _TOP, _LANE_W, _MARGIN = 40, 70, 210, 20


def from_labels(labels: Sequence[str], title: str) -> dict[str, Any]:
    """A drawable diagram for a counterexample stored as labels.

    Labels that all read ``<actor>: <action>`` (the CAS schedules) become one lane per actor plus ``memory``, as
    ``shift_core.model.diagram.schedule_diagram`` draws them; anything else goes on the trace lanes.
    """
    actors = [m.group(1) for m in (re.match(r"\s*([A-Za-z][A-Za-z0-9]*):\s", label) for label in labels) if m]
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
        m = re.match(r"\s*(?:\d+\s*[.:)]\s*)?(?:Ev)?([A-Za-z_]+)", label)
        key = m.group(1).lower().replace("_", "") if m else ""
        src, dst, lost = _PLACE.get(key, ("*", "*", False))
        out.append({"src": src, "dst": dst, "label": label, "lost": lost})
    return out


def _text(x: float, y: float, s: str, size: int = 11, weight: str = "normal", fill: str = "#1f2328") -> str:
    return (f'<text x="{x:.0f}" y="{y:.0f}" text-anchor="middle" font-size="{size}" font-weight="{weight}" '
            f'fill="{fill}" font-family="DejaVu Sans Mono, Menlo, monospace">{escape(s)}</text>')


def _short(s: str, limit: int) -> str:
    return s if len(s) <= limit else s[: limit - 1] + "…"


def render(diagram: dict[str, Any]) -> str:
    """The SVG document of one diagram (``Diagram.to_json`` shape); steps are numbered top to bottom."""
    title = str(diagram.get("title", ""))
    lanes = [str(lane) for lane in diagram.get("lanes") or TRACE_LANES]
    steps = list(diagram.get("steps") or [])
    width = max(len(lanes) * _LANE_W + 2 * _MARGIN, 480)
    lane_w = (width - 2 * _MARGIN) / len(lanes)
    xs = {lane: _MARGIN + lane_w * (i + 0.5) for i, lane in enumerate(lanes)}
    height = _TOP + _ROW * (len(steps) + 1)
    chars = int(lane_w / 7)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height}" '
        f'viewBox="0 0 {width:.0f} {height}" role="img" aria-label="{escape(title)}">',
        '<defs><marker id="head" markerWidth="10" markerHeight="8" refX="9" refY="4" orient="auto">'
        '<path d="M0,0 L10,4 L0,8 z" fill="#57606a"/></marker></defs>',
        f'<rect width="{width:.0f}" height="{height}" fill="#ffffff"/>',
        _text(width / 2, 20, _short(title, int(width / 8)), size=13, weight="bold"),
    ]
    for lane, x in xs.items():
        parts.append(f'<rect x="{x - lane_w / 2 + 8:.0f}" y="32" width="{lane_w - 16:.0f}" height="24" rx="4" '
                     'fill="#ddf4ff" stroke="#54aeff"/>')
        parts.append(_text(x, 49, _short(LANE_TITLES.get(lane, lane), chars), size=12, weight="bold"))
        parts.append(f'<line x1="{x:.0f}" y1="56" x2="{x:.0f}" y2="{height - 8}" stroke="#afb8c1" '
                     'stroke-dasharray="4,4"/>')
    for i, step in enumerate(steps, start=1):
        y = _TOP + _ROW * i - 8
        src, dst = str(step.get("src", "*")), str(step.get("dst", "*"))
        label = f"{i}. {step.get('label', '')}"
        lost = bool(step.get("lost"))
        color = "#cf222e" if lost else "#0969da"
        if src in xs and dst in xs and src != dst:
            x1, x2 = xs[src], xs[dst]
            xe = x1 + (x2 - x1) * (0.72 if lost else 1.0)
            dash = ' stroke-dasharray="6,3"' if lost else ' marker-end="url(#head)"'
            parts.append(f'<line x1="{x1:.0f}" y1="{y}" x2="{xe:.0f}" y2="{y}" stroke="{color}" '
                         f'stroke-width="2"{dash}/>')
            if lost:
                parts.append(f'<path d="M{xe - 7:.0f},{y - 7} l14,14 M{xe - 7:.0f},{y + 7} l14,-14" '
                             'stroke="#cf222e" stroke-width="3"/>')
            parts.append(_text((x1 + x2) / 2, y - 7, _short(label, int(abs(x2 - x1) / 7)), fill=color))
        elif src in xs:
            # a note grows past its lane when its text needs it, but stays inside the picture
            w = min(max(lane_w - 12, 6.8 * len(label) + 16), width - 2 * _MARGIN)
            x = min(max(xs[src], _MARGIN + w / 2), width - _MARGIN - w / 2)
            parts.append(f'<rect x="{x - w / 2:.0f}" y="{y - 12}" width="{w:.0f}" height="24" rx="5" '
                         'fill="#fff8c5" stroke="#bf8700"/>')
            parts.append(_text(x, y + 4, _short(label, int((w - 8) / 6.8))))
        else:
            parts.append(f'<rect x="{_MARGIN}" y="{y - 12}" width="{width - 2 * _MARGIN:.0f}" height="24" rx="5" '
                         'fill="#f6f8fa" stroke="#8c959f"/>')
            parts.append(_text(width / 2, y + 4, _short(label, int((width - 2 * _MARGIN) / 7))))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
