"""The arithmetic of a worked solution: the numbers it writes and the calculator
annotations (``<<48/2=24>>``) it carries, evaluated without ``eval``.

Both sides of step labelling read numbers the same way: the symbolic checks a process reward
model weighs (``_checks``) and error injection, which corrupts a calculation and carries the
wrong value forward (``rewardlab.label.inject``). One reader keeps them agreeing on what a
number is and when two values are equal.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable

__all__ = ["evaluate_expression"]

_CALC = re.compile(r"<<([^<>=]*)=([^<>]*)>>")
_NUMBER = re.compile(r"(?<![\d.])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?!\d)|(?<![\d.])\.\d+")
_OPS: dict[type, Callable[[float, float], float]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}


def evaluate_expression(expr: str) -> float | None:
    """The value of a calculator annotation's expression, or None if it is not plain
    arithmetic (numbers, + - * / // % **, parentheses). Never calls ``eval``.

    Example:
        >>> evaluate_expression("100-50-30-15"), evaluate_expression("20000*.8")
        (5.0, 16000.0)
        >>> evaluate_expression("__import__('os')") is None
        True
    """
    text = _NUMBER.sub(lambda m: repr(_value(m.group())), expr).strip()
    try:
        tree = ast.parse(text, mode="eval")
        value = _eval_node(tree.body)
    except (SyntaxError, ValueError, ZeroDivisionError, OverflowError, RecursionError):
        return None
    return value if math.isfinite(value) else None


def _eval_node(node: ast.AST) -> float:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _eval_node(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        left, right = _eval_node(node.left), _eval_node(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > 12:
            raise ValueError("exponent too large")
        return float(_OPS[type(node.op)](left, right))
    raise ValueError(f"not arithmetic: {type(node).__name__}")


def _value(token: str) -> float:
    return float(token.replace(",", ""))


def _key(value: float) -> float:
    return round(value, 6)


def _safe_value(text: str) -> float | None:
    m = _NUMBER.fullmatch(text.strip().lstrip("$"))
    return None if m is None else _key(_value(m.group()))
