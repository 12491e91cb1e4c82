"""Names and values from the tenant or the policy, made safe to print on a terminal or in a log.

A group named "Sales\\n  + license SPE_E5" must not draw a plan line of its own, an ESC sequence
must not move the cursor or recolour the screen, and a right-to-left override must not reorder
what a person reads. `shown` writes such characters as escapes (`\\n`, `\\x1b`, `\\u202e`), so
they stay visible; every other character, and every ordinary name, is left as it is.
"""

from __future__ import annotations

import re

# C0 controls, DEL and C1 controls (category Cc: tab, line feed, ESC, CSI, NEL, ...); the line
# and paragraph separators, which str.splitlines breaks on; Unicode's Bidi_Control characters,
# which reorder the text around them (ALM, LRM, RLM, LRE/RLE/PDF/LRO/RLO, LRI/RLI/FSI/PDI); and
# lone surrogates, which no terminal can print
UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def shown(text: object) -> str:
    """`text` with every unsafe character written as an escape; text without one is unchanged."""
    return UNSAFE.sub(_escape, str(text))


def shown_lines(text: str) -> str:
    """Like `shown`, but line feeds stay: for a message whose lines are reconciler's own."""
    return "\n".join(shown(line) for line in text.split("\n"))


def escape(char: str) -> str:
    """One character as an escape: `\\n`, `\\x1b`, `\\u202e`."""
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _escape(match: re.Match[str]) -> str:
    return escape(match[0])
