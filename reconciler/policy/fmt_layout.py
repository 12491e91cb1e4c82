"""For `fmt` (policy/fmt.py): where the comments and block text of YAML text are, and where
its comment lines and blank lines go."""

from __future__ import annotations

from dataclasses import dataclass

from ruamel.yaml import YAML
from ruamel.yaml.tokens import ScalarToken


@dataclass(frozen=True, slots=True)
class Comment:
    """One comment, from its `#` to the end of its line."""

    line: int  # from 0
    column: int  # from 0
    text: str  # from `#`, without trailing spaces
    alone: bool  # nothing but spaces before it on its line


@dataclass(frozen=True, slots=True)
class Layout:
    """Where a text's comments are, and which of its lines are the inside of a scalar."""

    lines: tuple[str, ...]
    comments: tuple[Comment, ...]
    inside: frozenset[int]  # lines within multi-line scalars (block scalar text)
    text_indent: dict[int, int]  # line starting a multi-line scalar -> indentation of its text


def scan_layout(text: str) -> Layout:
    """The comments of `text` and the lines inside its scalars, from ruamel.yaml's scanner."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    inside: set[int] = set()
    text_indent: dict[int, int] = {}
    taken: dict[int, list[tuple[int, int]]] = {}  # per line, the columns scalars take
    for token in YAML(typ="rt").scan(text):
        if not isinstance(token, ScalarToken):
            continue
        start, end = token.start_mark, token.end_mark
        last = end.line if end.column > 0 else end.line - 1
        span = range(start.line + 1, last + 1)
        indents = [_indent(lines[n]) for n in span if lines[n].strip()]
        indent = min(indents, default=_indent(lines[start.line]) + 1)
        if token.style in ("|", ">"):
            header = lines[start.line][start.column :]
            if "+" not in header.split("#")[0]:
                # empty lines after the text are its own only when kept, with `|+` or `>+`;
                # a line of spaces deeper than the text is text
                while last > start.line and len(lines[last]) <= indent and not lines[last].strip():
                    last -= 1
        elif start.line == end.line:
            taken.setdefault(start.line, []).append((start.column, end.column))
        else:
            taken.setdefault(start.line, []).append((start.column, len(lines[start.line])))
            taken.setdefault(end.line, []).append((0, end.column))
        if last > start.line:
            inside.update(range(start.line + 1, last + 1))
            text_indent[start.line] = indent
    comments = tuple(
        comment
        for number, line in enumerate(lines)
        if number not in inside
        and (comment := _comment_on(number, line, taken.get(number, []))) is not None
    )
    return Layout(tuple(lines), comments, frozenset(inside), text_indent)


def _comment_on(number: int, line: str, taken: list[tuple[int, int]]) -> Comment | None:
    """The comment on a line: a `#` after a space or at the start, outside every scalar."""
    column = line.find("#")
    while column >= 0:
        after_space = column == 0 or line[column - 1] in " \t"
        if after_space and not any(start <= column < end for start, end in taken):
            text = line[column:].rstrip()
            return Comment(number, column, text, not line[:column].strip())
        column = line.find("#", column + 1)
    return None


def comments_at_column_0(layout: Layout) -> str:
    """The text with each comment line starting at column 0 (and trailing spaces gone)."""
    lines = list(layout.lines)
    for comment in layout.comments:
        if comment.alone:
            lines[comment.line] = comment.text
    return "".join(f"{line}\n" for line in lines)


def tidy(layout: Layout, source: Layout) -> str:
    """Lay out comments and blank lines: comment lines indented to the structure they are in,
    end-of-line comments as far from their line as in `source` (the text as written), no
    trailing spaces, one blank line at most, one newline at the end. Block text is kept."""
    lines = layout.lines
    placed = _placements(layout, source)
    comments = {comment.line: comment for comment in layout.comments}
    alone = {comment.line for comment in layout.comments if comment.alone}
    content = [
        number
        for number, line in enumerate(lines)
        if number not in layout.inside and number not in alone and line.strip()
    ]
    out: list[tuple[str, bool]] = []  # each line, and whether it is block text
    previous: int | None = None  # the last content line so far
    upcoming = iter(content)
    following = next(upcoming, None)
    for number, line in enumerate(lines):
        if number in layout.inside:
            out.append((line, True))
            continue
        while following is not None and following < number:
            following = next(upcoming, None)
        comment = comments.get(number)
        if not line.strip():
            if out and out[-1][0]:
                out.append(("", False))
        elif comment is not None and comment.alone:
            column = _comment_column(layout, content, previous, following, placed[number])
            out.append((" " * column + comment.text, False))
        else:
            previous = number
            if comment is not None:
                line = line[: comment.column].rstrip() + " " * placed[number] + comment.text
            out.append((line.rstrip(), False))
    while out and out[-1] == ("", False):
        out.pop()
    return "".join(f"{line}\n" for line, _ in out)


def _placements(layout: Layout, source: Layout) -> dict[int, int]:
    """For each comment in `layout`, by line, how it was written in `source`: the column of a
    comment line; the spaces before an end-of-line comment."""
    pairs = list(zip(layout.comments, source.comments, strict=False))
    if len(layout.comments) != len(source.comments) or any(c.alone != w.alone for c, w in pairs):
        # ruamel.yaml moved a comment onto a line of its own, or off one: go by its layout
        source, pairs = layout, [(comment, comment) for comment in layout.comments]
    return {
        comment.line: written.column
        if written.alone
        else written.column - len(source.lines[written.line][: written.column].rstrip())
        for comment, written in pairs
    }


def _comment_column(
    layout: Layout, content: list[int], previous: int | None, following: int | None, written: int
) -> int:
    """Where a comment line goes: at the next line's indentation; when written deeper than
    that, at the deepest level of the lines before it that is no deeper than written."""
    lines = layout.lines
    floor = _indent(lines[following]) if following is not None else 0
    if written <= floor or previous is None:
        return floor
    levels = {floor}
    limit: int | None = None
    for number in reversed([n for n in content if n <= previous]):
        if limit is not None and _indent(lines[number]) >= limit:
            continue  # not an enclosing line
        levels.update(level for level in _levels(lines[number]) if level >= floor)
        limit = _indent(lines[number])
        if limit <= floor:
            break
    # a comment as deep as the block text just above it would become part of the text, whichever
    # line opened that level (an empty item's `- ` on an enclosing line opens one too)
    deepest = layout.text_indent.get(previous, written + 1) - 1
    return max(level for level in levels if level <= min(written, deepest))


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _levels(line: str) -> list[int]:
    """The indentations a line opens: its own, and after each `- ` the item's."""
    column = _indent(line)
    levels = [column]
    while line.startswith("- ", column):
        column += 2
        while line.startswith(" ", column):
            column += 1
        levels.append(column)
    return levels
