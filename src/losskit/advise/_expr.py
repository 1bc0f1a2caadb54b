"""A small, safe expression language for the advisor's rule table (no ``eval``).

Grammar, lowest precedence first::

    expr       := or_expr ['if' or_expr 'else' expr]
    or_expr    := and_expr ('or' and_expr)*
    and_expr   := not_expr ('and' not_expr)*
    not_expr   := 'not' not_expr | comparison
    comparison := sum [('==' | '!=' | '<' | '<=' | '>' | '>=' | 'in' | 'not' 'in' | 'is'
                        | 'is' 'not') sum]
    sum        := product (('+' | '-') product)*
    product    := unary (('*' | '/') unary)*
    unary      := '-' unary | postfix
    postfix    := atom ('[' expr ']')*
    atom       := NUMBER | STRING | true | false | none | NAME | FUNCTION '(' [expr (',' expr)*] ')'
                | '(' expr ')' | '(' expr ',' [expr (',' expr)*] ')' | '[' [expr (',' expr)*] ']'
                | '{' [STRING ':' expr (',' STRING ':' expr)*] '}'

Every name must be one of the names the caller allows (the profile's facts); a name that
is not is an error when the expression is compiled, so a misspelt fact fails at import.
A fact a target does not have evaluates to ``none``; an order comparison or arithmetic
involving ``none`` is false / ``none``, so ``imbalance_ratio >= 3`` is simply false for a
regression target. ``and`` / ``or`` return an operand, as in Python.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["FUNCTIONS", "Expr", "ExprError", "compile_expr"]


class ExprError(ValueError):
    """A rule expression that does not parse or uses a name that does not exist."""


def _none_safe(fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapped(*args: Any) -> Any:
        return None if any(a is None for a in args) else fn(*args)
    return wrapped


#: Functions an expression may call.
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": _none_safe(abs), "min": _none_safe(min), "max": _none_safe(max),
    "sqrt": _none_safe(math.sqrt), "log10": _none_safe(math.log10),
    "round": _none_safe(round), "len": _none_safe(len), "bool": bool,
    "float": _none_safe(float), "int": _none_safe(int),
}

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>\d+\.\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|\d+(?:[eE][-+]?\d+)?)
  | (?P<string>'[^'\\]*'|"[^"\\]*")
  | (?P<name>[A-Za-z_][A-Za-z_0-9]*)
  | (?P<op>==|!=|<=|>=|[<>+\-*/()\[\],:{}])
""", re.VERBOSE)

_KEYWORDS = {"and", "or", "not", "in", "is", "if", "else", "true", "false", "none", "True", "False",
             "None"}
_ORDER = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ExprError(f"cannot read {text[pos:pos + 10]!r} in {text!r}")
        pos = m.end()
        kind = m.lastgroup
        assert kind is not None  # every alternative of _TOKEN is a named group
        if kind != "space":
            value = m.group()
            out.append(("kw" if kind == "name" and value in _KEYWORDS else kind, value))
    out.append(("end", ""))
    return out


Node = Callable[[Mapping[str, Any]], Any]


@dataclass(frozen=True)
class Expr:
    """A compiled expression: its text, the names it reads, and ``evaluate(facts)``."""

    text: str
    names: frozenset[str]
    _fn: Node
    #: (name, literal) pairs compared with ``==`` / ``in``: ``task == 'binary'``.
    literals: tuple[tuple[str, Any], ...] = ()

    def evaluate(self, facts: Mapping[str, Any]) -> Any:
        return self._fn(facts)

    def holds(self, facts: Mapping[str, Any]) -> bool:
        return bool(self._fn(facts))


class _Parser:
    def __init__(self, text: str, allowed: Iterable[str] | None):
        self.text = text
        self.toks = _tokens(text)
        self.i = 0
        self.allowed = None if allowed is None else set(allowed)
        self.names: set[str] = set()
        self.literals: list[tuple[str, Any]] = []

    # -- tokens
    def peek(self, offset: int = 0) -> tuple[str, str]:
        return self.toks[self.i + offset]

    def take(self, value: str | None = None, kind: str | None = None) -> str:
        k, v = self.toks[self.i]
        if (value is not None and v != value) or (kind is not None and k != kind):
            want = value or kind
            got = v or "the end"
            raise ExprError(f"expected {want!r} but found {got!r} in {self.text!r}")
        self.i += 1
        return v

    def at(self, value: str) -> bool:
        return self.toks[self.i][1] == value and self.toks[self.i][0] in ("op", "kw")

    # -- grammar
    def parse(self) -> Expr:
        node = self.expr()
        if self.peek()[0] != "end":
            raise ExprError(f"unexpected {self.peek()[1]!r} in {self.text!r}")
        return Expr(self.text, frozenset(self.names), node, tuple(self.literals))

    def expr(self) -> Node:
        body = self.or_expr()
        if self.at("if"):
            self.take("if")
            cond = self.or_expr()
            self.take("else")
            other = self.expr()
            return lambda f: body(f) if cond(f) else other(f)
        return body

    def or_expr(self) -> Node:
        node = self.and_expr()
        while self.at("or"):
            self.take("or")
            left, right = node, self.and_expr()
            node = (lambda a, b: lambda f: a(f) or b(f))(left, right)
        return node

    def and_expr(self) -> Node:
        node = self.not_expr()
        while self.at("and"):
            self.take("and")
            left, right = node, self.not_expr()
            node = (lambda a, b: lambda f: a(f) and b(f))(left, right)
        return node

    def not_expr(self) -> Node:
        if self.at("not"):
            self.take("not")
            inner = self.not_expr()
            return lambda f: not inner(f)
        return self.comparison()

    def comparison(self) -> Node:
        start = self.i
        left = self.sum()
        name = self.toks[start][1] if self.i == start + 1 and self.toks[start][0] == "name" \
            else None
        op = None
        ordering = self.peek()[0] == "op" and self.peek()[1] in ("==", "!=", "<", "<=", ">", ">=")
        if ordering or self.at("in"):
            op = self.take()
        elif self.at("not") and self.peek(1)[1] == "in":
            self.take("not")
            self.take("in")
            op = "not in"
        elif self.at("is"):
            self.take("is")
            op = "is"
            if self.at("not"):
                self.take("not")
                op = "is not"
        if op is None:
            return left
        lit_start = self.i
        right = self.sum()
        if name is not None and op in ("==", "!=", "in", "not in"):
            self._record_literals(name, lit_start)
        if op == "is":
            return lambda f: left(f) is right(f)
        if op == "is not":
            return lambda f: left(f) is not right(f)
        if op == "==":
            return lambda f: left(f) == right(f)
        if op == "!=":
            return lambda f: left(f) != right(f)
        if op in ("in", "not in"):
            def member(f: Mapping[str, Any]) -> bool:
                a, b = left(f), right(f)
                return False if b is None else a in b
            return member if op == "in" else (lambda f: not member(f))
        compare = _ORDER[op]

        def ordered(f: Mapping[str, Any]) -> bool:
            a, b = left(f), right(f)
            return False if a is None or b is None else bool(compare(a, b))
        return ordered

    def _record_literals(self, name: str, start: int) -> None:
        for kind, value in self.toks[start:self.i]:
            if kind == "string":
                self.literals.append((name, value[1:-1]))

    def sum(self) -> Node:
        node = self.product()
        while self.peek()[1] in ("+", "-") and self.peek()[0] == "op":
            op = operator.add if self.take() == "+" else operator.sub
            left, right = node, self.product()
            node = (lambda a, b, o: lambda f: _none_safe(o)(a(f), b(f)))(left, right, op)
        return node

    def product(self) -> Node:
        node = self.unary()
        while self.peek()[1] in ("*", "/") and self.peek()[0] == "op":
            op = operator.mul if self.take() == "*" else operator.truediv
            left, right = node, self.unary()
            node = (lambda a, b, o: lambda f: _none_safe(o)(a(f), b(f)))(left, right, op)
        return node

    def unary(self) -> Node:
        if self.peek() == ("op", "-"):
            self.take("-")
            inner = self.unary()
            return lambda f: None if inner(f) is None else -inner(f)
        return self.postfix()

    def postfix(self) -> Node:
        node = self.atom()
        while self.peek() == ("op", "["):
            self.take("[")
            key = self.expr()
            self.take("]")
            node = (lambda a, k: lambda f: _index(a(f), k(f)))(node, key)
        return node

    def _list(self, close: str) -> list[Node]:
        items: list[Node] = []
        while not self.at(close):
            items.append(self.expr())
            if not self.at(close):
                self.take(",")
        self.take(close)
        return items

    def atom(self) -> Node:
        kind, value = self.peek()
        if kind == "number":
            self.take()
            number = float(value) if any(c in value for c in ".eE") else int(value)
            return lambda f: number
        if kind == "string":
            self.take()
            text = value[1:-1]
            return lambda f: text
        if kind == "kw" and value in ("true", "True", "false", "False", "none", "None"):
            self.take()
            constant = {"true": True, "false": False, "none": None}[value.lower()]
            return lambda f: constant
        if kind == "name":
            self.take()
            if self.peek() == ("op", "("):
                if value not in FUNCTIONS:
                    raise ExprError(f"unknown function {value!r} in {self.text!r}; known: "
                                    f"{', '.join(sorted(FUNCTIONS))}")
                self.take("(")
                args = self._list(")")
                fn = FUNCTIONS[value]
                return lambda f: fn(*(a(f) for a in args))
            if self.allowed is not None and value not in self.allowed:
                import difflib

                near = difflib.get_close_matches(value, sorted(self.allowed), n=1)
                hint = f" (did you mean {near[0]!r}?)" if near else ""
                raise ExprError(f"unknown fact {value!r}{hint} in {self.text!r}")
            self.names.add(value)
            return lambda f: f.get(value)
        if value == "(":
            self.take("(")
            first = self.expr()
            if self.at(")"):
                self.take(")")
                return first
            self.take(",")
            rest = self._list(")")
            items = [first, *rest]
            return lambda f: tuple(a(f) for a in items)
        if value == "[":
            self.take("[")
            items = self._list("]")
            return lambda f: [a(f) for a in items]
        if value == "{":
            self.take("{")
            pairs: list[tuple[str, Node]] = []
            while not self.at("}"):
                key = self.take(kind="string")[1:-1]
                self.take(":")
                pairs.append((key, self.expr()))
                if not self.at("}"):
                    self.take(",")
            self.take("}")
            return lambda f: {k: v(f) for k, v in pairs}
        raise ExprError(f"unexpected {value or 'end'!r} in {self.text!r}")


def _index(container: Any, key: Any) -> Any:
    if container is None or key is None:
        return None
    try:
        return container[key]
    except (KeyError, IndexError, TypeError):
        return None


def compile_expr(text: str, allowed: Iterable[str] | None = None) -> Expr:
    """Parse ``text`` once; every name it reads must be in ``allowed`` (when given)."""
    if not isinstance(text, str) or not text.strip():
        raise ExprError(f"an expression must be a non-empty string, got {text!r}")
    return _Parser(text, allowed).parse()
