"""Small MyST-markdown builders shared by the fragment renderers (tables, notes, JSON values)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any


def cell(value: Any) -> str:
    """A value as one table cell: JSON for structures, pipes and newlines escaped."""
    if isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, (dict, list, tuple)):
        text = "`" + json.dumps(value, sort_keys=True, ensure_ascii=False).replace("`", "'") + "`"
    elif value is None:
        text = ""
    else:
        text = str(value)
    return text.replace("|", "\\|").replace("\r", " ").replace("\n", " ").strip()


def raw_cell(text: Any) -> str:
    """Pre-formatted MyST / inline HTML as one cell: only pipes and newlines are escaped."""
    return str(text).replace("|", "\\|").replace("\r", " ").replace("\n", " ").strip()


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], raw: bool = False) -> str:
    """A pipe table (every row padded or cut to the header's width); ``raw``: cells are already MyST."""
    fmt = raw_cell if raw else cell
    out = ["| " + " | ".join(cell(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        vals = [*list(row)[: len(headers)], *[""] * (len(headers) - len(row))]
        out.append("| " + " | ".join(fmt(v) for v in vals) + " |")
    return "\n".join(out) + "\n"


def dict_table(rows: Sequence[dict[str, Any]], preferred: Sequence[str] = ()) -> str:
    """A table of dict rows; columns are ``preferred`` (those present) then the rest in first-seen order."""
    keys: list[str] = [k for k in preferred if any(k in r for r in rows)]
    for r in rows:
        keys += [k for k in r if k not in keys]
    return table(keys, ([r.get(k, "") for k in keys] for r in rows))


def not_generated(display_path: str, why: str = "not generated in this run") -> str:
    """The honest placeholder for a result this run did not produce."""
    return f"\n:::{{note}}\n{why.capitalize()}: `{display_path}`.\n:::\n\n"


def admonition(kind: str, body: str, title: str = "") -> str:
    """A MyST admonition (``note``, ``warning``, ``important``...)."""
    head = f":::{{{kind}}}" if not title else f":::{{admonition}} {title}\n:class: {kind}"
    return f"\n{head}\n{body.strip()}\n:::\n\n"


def code(text: str, lang: str = "text") -> str:
    """A fenced code block (fence longer than any backtick run inside)."""
    fence = "````" if "```" in text else "```"
    return f"\n{fence}{lang}\n{text.rstrip()}\n{fence}\n\n"


def code_wbr(text: str) -> str:
    """``text`` as inline HTML code that may wrap after ``.``, ``_`` and ``/`` (long dotted identifiers in narrow
    table columns), never inside a word."""
    import html
    import re

    return "<code>" + re.sub(r"([._/])", r"\1<wbr>", html.escape(text)) + "</code>"
