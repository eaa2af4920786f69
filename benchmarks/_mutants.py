"""Mutants of HumanEval's canonical solutions: the near-miss programs a policy writes.

Four operator families, applied to the entry point's body (each mutant changes one place):
operator swaps (``+``/``-``, ``*``/``//``, ``<``/``<=``, ``>``/``>=``, ``==``/``!=``,
``and``/``or``), off-by-one (an integer constant ``k`` becomes ``k + 1``), a dropped statement,
and a wrong return (``return None``). A mutant is the whole function as source, so it is a
valid response on its own (the prompt's helpers come first). Sampling is seeded per task.
"""

from __future__ import annotations

import ast
import copy
import random
from collections.abc import Iterator

__all__ = ["mutants"]

_SWAPS: dict[type, type] = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.FloorDiv,
                            ast.FloorDiv: ast.Mult, ast.Lt: ast.LtE, ast.LtE: ast.Lt,
                            ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
                            ast.NotEq: ast.Eq, ast.And: ast.Or, ast.Or: ast.And}


def _function(prompt: str, solution: str, entry: str) -> ast.FunctionDef | None:
    try:
        tree = ast.parse(prompt + solution)
    except SyntaxError:
        return None
    return next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == entry),
                None)


def _sites(fn: ast.FunctionDef) -> Iterator[tuple[str, int]]:
    """(family, index) of every place a mutation applies, in a fixed walk order."""
    for i, node in enumerate(ast.walk(fn)):
        swappable = (isinstance(node, ast.BinOp | ast.BoolOp) and type(node.op) in _SWAPS) or (
            isinstance(node, ast.Compare) and type(node.ops[0]) in _SWAPS)
        if swappable:
            yield "operator swap", i
        elif (isinstance(node, ast.Constant) and type(node.value) is int):
            yield "off-by-one", i
        elif isinstance(node, ast.Return) and node.value is not None:
            yield "wrong return", i
        docstring = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        if i and isinstance(node, ast.stmt) and not isinstance(node, ast.FunctionDef) and (
                not docstring):
            yield "dropped line", i


def _apply(fn: ast.FunctionDef, family: str, index: int) -> str | None:
    fn = copy.deepcopy(fn)
    nodes = list(ast.walk(fn))
    target = nodes[index]
    if family == "operator swap":
        if isinstance(target, ast.Compare):
            target.ops[0] = _SWAPS[type(target.ops[0])]()
        else:
            target.op = _SWAPS[type(target.op)]()  # type: ignore[attr-defined]
    elif family == "off-by-one":
        target.value += 1  # type: ignore[attr-defined]
    elif family == "wrong return":
        target.value = ast.Constant(None)  # type: ignore[attr-defined]
    else:
        for parent in nodes:
            for name in ("body", "orelse", "finalbody"):
                block = getattr(parent, name, None)
                if isinstance(block, list) and target in block:
                    if len(block) == 1:
                        block[0] = ast.Pass()
                    else:
                        block.remove(target)
                    break
    try:
        return ast.unparse(ast.fix_missing_locations(fn)) + "\n"
    except (ValueError, AttributeError):
        return None


def mutants(prompt: str, solution: str, entry: str, *, k: int, seed: int) -> list[tuple[str, str]]:
    """Up to ``k`` distinct ``(family, source)`` mutants of the solution, sampled with
    ``seed`` (families interleaved so every kind is represented)."""
    fn = _function(prompt, solution, entry)
    if fn is None:
        return []
    original = ast.unparse(fn)
    by_family: dict[str, list[int]] = {}
    for family, index in _sites(fn):
        by_family.setdefault(family, []).append(index)
    rng = random.Random(seed)
    for sites in by_family.values():
        rng.shuffle(sites)
    out, seen = [], {original}
    families = sorted(by_family)
    rng.shuffle(families)
    while len(out) < k and any(by_family.values()):
        for family in families:
            if by_family[family] and len(out) < k:
                source = _apply(fn, family, by_family[family].pop())
                if source is not None and source.strip() not in seen:
                    seen.add(source.strip())
                    out.append((family, source))
    return out
