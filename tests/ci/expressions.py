"""GitHub Actions expressions (`${{ ... }}` and `if:`), as much of them as the example workflows
use, so their steps can run here with the values a real run would give them.

Contexts are plain dicts; a `Strict` dict raises on a missing key instead of giving null, so a
test that forgot a value (a `vars.` or `github.` the workflow reads) fails loudly.
"""

from __future__ import annotations

import glob
import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

STATUS_FUNCTIONS = ("always", "success", "failure", "cancelled")

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>'(?:[^']|'')*')
     |(?P<number>\d+(?:\.\d+)?)
     |(?P<op>==|!=|<=|>=|&&|\|\||[<>!()\[\],.])
     |(?P<name>[A-Za-z_][A-Za-z0-9_-]*)
    )""",
    re.VERBOSE,
)
_EMBEDDED = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)


class Strict(dict):
    """A context whose missing keys are a mistake of the test, not null."""

    def __missing__(self, key):
        raise KeyError(f"the test gives no value for {key!r}")


class ExpressionError(ValueError):
    pass


def tokens(text: str) -> list[tuple[str, Any]]:
    found, position = [], 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise ExpressionError(f"can't read {text[position:]!r} in {text!r}")
        position = match.end()
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "string":
            value = value[1:-1].replace("''", "'")
        elif kind == "number":
            value = float(value) if "." in value else int(value)
        found.append((kind, value))
    return found


class _Parser:
    """Expression text to a small tree of tuples; evaluated lazily, so `a || b` never reads b
    when a holds, as GitHub does."""

    def __init__(self, text: str):
        self.text = text
        self.tokens = tokens(text)
        self.at = 0

    def parse(self):
        tree = self._or()
        if self.at != len(self.tokens):
            raise ExpressionError(f"unexpected {self.tokens[self.at][1]!r} in {self.text!r}")
        return tree

    def _peek(self, *ops: str) -> bool:
        return self.at < len(self.tokens) and self.tokens[self.at] in [("op", o) for o in ops]

    def _take(self, op: str) -> None:
        if not self._peek(op):
            raise ExpressionError(f"expected {op!r} in {self.text!r}")
        self.at += 1

    def _or(self):
        tree = self._and()
        while self._peek("||"):
            self.at += 1
            tree = ("or", tree, self._and())
        return tree

    def _and(self):
        tree = self._compare()
        while self._peek("&&"):
            self.at += 1
            tree = ("and", tree, self._compare())
        return tree

    def _compare(self):
        tree = self._unary()
        while self._peek("==", "!=", "<", "<=", ">", ">="):
            op = self.tokens[self.at][1]
            self.at += 1
            tree = ("compare", op, tree, self._unary())
        return tree

    def _unary(self):
        if self._peek("!"):
            self.at += 1
            return ("not", self._unary())
        return self._postfix()

    def _postfix(self):
        tree = self._primary()
        while self._peek(".", "["):
            if self._peek("."):
                self.at += 1
                kind, name = self.tokens[self.at]
                if kind != "name":
                    raise ExpressionError(f"expected a property name in {self.text!r}")
                self.at += 1
                tree = ("index", tree, ("literal", name))
            else:
                self.at += 1
                key = self._or()
                self._take("]")
                tree = ("index", tree, key)
        return tree

    def _primary(self):
        if self.at >= len(self.tokens):
            raise ExpressionError(f"unexpected end of {self.text!r}")
        kind, value = self.tokens[self.at]
        self.at += 1
        if kind in ("string", "number"):
            return ("literal", value)
        if kind == "op" and value == "(":
            tree = self._or()
            self._take(")")
            return tree
        if kind == "name":
            if value in ("true", "false", "null"):
                return ("literal", {"true": True, "false": False, "null": None}[value])
            if self._peek("("):
                self.at += 1
                arguments = []
                while not self._peek(")"):
                    arguments.append(self._or())
                    if not self._peek(")"):
                        self._take(",")
                self._take(")")
                return ("call", value, arguments)
            return ("context", value)
        raise ExpressionError(f"unexpected {value!r} in {self.text!r}")


def truthy(value: Any) -> bool:
    if isinstance(value, float) and math.isnan(value):
        return False
    return value not in (None, False, 0, "")


def _number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value) if value.strip() else 0.0
        except ValueError:
            return math.nan
    return math.nan


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.casefold() == b.casefold()  # GitHub compares strings ignoring case
    if type(a) is type(b):
        return a == b
    return _number(a) == _number(b)


def text(value: Any) -> str:
    """A value as it lands in a `${{ }}` inside a string."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


class Evaluator:
    """Evaluates expressions against `contexts`; `status` is the job's state so far ("success"
    or "failure") for the status functions; `workspace` is where hashFiles looks."""

    def __init__(
        self,
        contexts: Mapping[str, Any],
        status: str = "success",
        workspace: Path | None = None,
    ):
        self.contexts = contexts
        self.status = status
        self.workspace = workspace
        self.functions: dict[str, Callable[..., Any]] = {
            "always": lambda: True,
            "success": lambda: self.status == "success",
            "failure": lambda: self.status == "failure",
            "cancelled": lambda: False,
            "fromJSON": lambda s: json.loads(s),
            "toJSON": lambda v: json.dumps(v, indent=2),
            "contains": self._contains,
            "startsWith": lambda s, p: text(s).casefold().startswith(text(p).casefold()),
            "endsWith": lambda s, p: text(s).casefold().endswith(text(p).casefold()),
            "format": self._format,
            "join": lambda items, sep=",": text(sep).join(text(i) for i in items),
            "hashFiles": self._hash_files,
        }

    def evaluate(self, expression: str) -> Any:
        return self._value(_Parser(expression).parse())

    def condition(self, expression: str | bool | None) -> bool:
        """An `if:`: without a status function, GitHub puts `success() &&` in front."""
        if expression is None:
            expression = "success()"
        if isinstance(expression, bool):
            return expression and self.status == "success"
        body = expression.strip()
        embedded = re.fullmatch(r"\$\{\{(.*)\}\}", body, re.DOTALL)
        if embedded:
            body = embedded.group(1)
        if not any(re.search(rf"\b{name}\s*\(", body) for name in STATUS_FUNCTIONS):
            body = f"success() && ({body})"
        return truthy(self.evaluate(body))

    def substitute(self, value: str) -> str:
        """Every `${{ expression }}` in `value` replaced by its value as text."""
        return _EMBEDDED.sub(lambda m: text(self.evaluate(m.group(1))), value)

    def _value(self, tree) -> Any:
        kind = tree[0]
        if kind == "literal":
            return tree[1]
        if kind == "context":
            return self.contexts[tree[1]]
        if kind == "index":
            container = self._value(tree[1])
            key = self._value(tree[2])
            if isinstance(container, dict):
                return container[key] if isinstance(container, Strict) else container.get(key)
            if isinstance(container, list) and isinstance(key, int | float):
                index = int(key)
                return container[index] if 0 <= index < len(container) else None
            return None
        if kind == "not":
            return not truthy(self._value(tree[1]))
        if kind == "and":
            left = self._value(tree[1])
            return self._value(tree[2]) if truthy(left) else left
        if kind == "or":
            left = self._value(tree[1])
            return left if truthy(left) else self._value(tree[2])
        if kind == "compare":
            op, left, right = tree[1], self._value(tree[2]), self._value(tree[3])
            if op == "==":
                return _equal(left, right)
            if op == "!=":
                return not _equal(left, right)
            a, b = _number(left), _number(right)
            return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
        if kind == "call":
            function = self.functions.get(tree[1])
            if function is None:
                raise ExpressionError(f"unknown function {tree[1]}()")
            return function(*[self._value(argument) for argument in tree[2]])
        raise AssertionError(kind)

    def _contains(self, haystack: Any, needle: Any) -> bool:
        if isinstance(haystack, list):
            return any(_equal(item, needle) for item in haystack)
        return text(needle).casefold() in text(haystack).casefold()

    def _format(self, template: str, *arguments: Any) -> str:
        def replace(match: re.Match) -> str:
            return text(arguments[int(match.group(1))])

        return re.sub(r"\{(\d+)\}", replace, template).replace("{{", "{").replace("}}", "}")

    def _hash_files(self, *patterns: str) -> str:
        if self.workspace is None:
            raise ExpressionError("hashFiles() needs a workspace")
        files = sorted(
            {
                Path(found)
                for pattern in patterns
                for found in glob.glob(str(self.workspace / pattern), recursive=True)
                if Path(found).is_file()
            }
        )
        if not files:
            return ""
        digest = hashlib.sha256()
        for path in files:
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        return digest.hexdigest()
