"""GitHub-flavoured Markdown pieces: alerts, details, tables, fences, and text made safe in them.

Text from the tenant or the policy is escaped wherever it goes: it can't break a table, open
HTML, close a code span or fence, or mention anyone; control and bidirectional characters are
written as escapes (render/safe_text.py), so none can hide or reorder text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from urllib.parse import quote

from reconciler.render.safe_text import shown


def size(text: str) -> int:
    """Length as GitHub may count it, conservatively: UTF-16 code units (an emoji counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def count(number: int, noun: str, plural: str | None = None) -> str:
    return f"{number:,} {noun if number == 1 else plural or noun + 's'}"


def more(count: int, noun: str, plural: str | None = None) -> list[str]:
    # after a blank line: a line right after a table would be read as one more row
    what = noun if count == 1 else plural or noun + "s"
    return ["", f"_… and {count:,} more {what}, not listed here._", ""] if count else []


def alert(kind: str, lines: Sequence[str]) -> list[str]:
    """A GitHub alert: a blockquote that starts [!NOTE], [!WARNING] or [!CAUTION]."""
    return [f"> [!{kind}]", *(f"> {line}" if line else ">" for line in lines), ""]


def details(summary: str, lines: Sequence[str]) -> list[str]:
    # the blank lines let GitHub render the Markdown inside the HTML block
    body = list(lines)
    while body and not body[-1]:
        body.pop()
    return [f"<details><summary>{html_text(summary)}</summary>", "", *body, "", "</details>", ""]


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A table of cells already escaped."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def fenced(language: str, lines: Sequence[str]) -> list[str]:
    # a fence longer than any run of backticks inside, so no name can close it
    longest = max((len(run) for line in lines for run in re.findall("`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + language, *lines, fence]


# Characters Markdown gives meaning to inline; `<`, `>` and `&` become entities instead
_MARKDOWN = re.compile(r"([\\`*_\[\]|~])")
# `@name` after a non-word character mentions a user or team; a zero-width space stops that
_MENTION = re.compile(r"(?<!\w)@(?=\w)")
_BREAKS = re.compile(r"\s+")


def one_line(text: str) -> str:
    # a line break in a name would end a table row or a diff line; what else is unsafe to show
    # (ESC, a right-to-left override) is written as an escape
    return shown(_BREAKS.sub(" ", str(text)))


def inline(text: str) -> str:
    """Text from the tenant or the policy, safe inline in Markdown and in a table cell."""
    escaped = html.escape(_MARKDOWN.sub(r"\\\1", one_line(text)), quote=False)
    return _MENTION.sub("@&#8203;", escaped)


def prose(text: str, table: bool = False) -> str:
    """A message of reconciler's own with names in it: its `commands` as code, the rest escaped."""
    parts = text.split("`")
    if len(parts) % 2 == 0:  # a backtick in a name: no pairs to trust
        return inline(text)
    return "".join(code(part, table) if i % 2 else inline(part) for i, part in enumerate(parts))


def html_text(text: str) -> str:
    """Text safe inside an HTML element such as <summary>, where Markdown isn't read."""
    return _MENTION.sub("@&#8203;", html.escape(one_line(text), quote=False))


def code(text: str, table: bool = False) -> str:
    """A code span; its delimiter is longer than any run of backticks in the text."""
    text = one_line(text)
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    tick = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    # in a table a pipe ends the cell even inside a code span; GFM reads `\|` there as `|`
    return f"{tick}{pad}{text.replace('|', chr(92) + '|') if table else text}{pad}{tick}"


def short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def link(url: str) -> str:
    return f"[{inline(url)}]({quote(url, safe=':/?&=#%@+~._-')})"
