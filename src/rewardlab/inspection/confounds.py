"""Confounds: surface features that predict the label without reading the content.

A reward model trained on a set where the chosen reply is usually the longer one learns
length (RewardBench users measure this by hand: reward-bench #267, #268). For each feature
the report gives the share of pairs, among those where the two replies differ in it, whose
chosen reply has more of it, with a 95% Wilson interval, and the accuracy of the rule "prefer
the reply with more of it" over all pairs (a tie counts half) — 0.5 is a feature that tells
nothing. A logistic regression on all the features together, cross-validated, says what a
feature-only reward model would reach.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from rewardlab.audit._stats import wilson_interval

__all__ = ["FEATURES", "confound_table", "feature_values", "refuses", "structure"]

_MARKDOWN = re.compile(r"^\s*(?:[-*+]\s|\d+[.)]\s|#{1,6}\s|>\s|```)|\*\*[^*\n]+\*\*|`[^`\n]+`",
                       re.MULTILINE)
_REFUSAL = re.compile(
    r"\b(?:I(?:'m| am) (?:sorry|afraid|not (?:able|comfortable|going to))|I (?:can(?:no|')t|"
    r"cannot|won't|will not|do not feel|don't feel|apologi[sz]e)|as an AI|I'm unable|"
    r"I am unable|not (?:appropriate|something I can)|against my (?:guidelines|policy))",
    re.IGNORECASE)


def structure(text: str) -> int:
    """Markdown/list structure: list items, headings, quotes, code fences, bold, inline code.

    Example:
        >>> structure("Steps:\\n1. a\\n2. **b**\\n- c")
        4
    """
    return len(_MARKDOWN.findall(text))


def refuses(text: str) -> int:
    """1 when the reply holds a refusal or apology phrase ("I'm sorry", "I can't", ...)."""
    return int(bool(_REFUSAL.search(text)))


#: name -> (what "more" means, per-reply value)
FEATURES: dict[str, tuple[str, Callable[[str], float]]] = {
    "length": ("the chosen reply is the longer (characters)", lambda t: float(len(t))),
    "structure": ("the chosen reply has more Markdown/list structure",
                  lambda t: float(structure(t))),
    "refusal": ("the chosen reply refuses or apologises and the other does not",
                lambda t: float(refuses(t))),
}


def feature_values(chosen: str, rejected: str) -> tuple[float, ...]:
    """Per feature, chosen minus rejected (what a streaming pass keeps of a row)."""
    return tuple(f(chosen) - f(rejected) for _desc, f in FEATURES.values())


def _one(diff: np.ndarray, description: str) -> dict[str, Any]:
    n = len(diff)
    differ = int(np.count_nonzero(diff))
    more = int((diff > 0).sum())
    share = more / differ if differ else float("nan")
    lo, hi = wilson_interval(more, differ)
    rule = float(((diff > 0).sum() + 0.5 * (diff == 0).sum()) / n) if n else float("nan")
    return {"share": share, "ci95": [lo, hi], "rule_accuracy": rule, "pairs_differing": differ,
            "pairs": n, "means": description}


def _feature_rule(diffs: np.ndarray, seed: int = 0) -> float:
    """Cross-validated accuracy of a logistic regression on the feature differences (each
    pair shown in a random orientation, so the model must use the features, not a bias)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    n = len(diffs)
    if n < 20:
        return float("nan")
    rng = np.random.default_rng(seed)
    sign = rng.choice([-1.0, 1.0], size=n)
    x = np.column_stack([np.sign(diffs) * np.log1p(np.abs(diffs))]) * sign[:, None]
    y = (sign > 0).astype(int)
    if len(set(y.tolist())) < 2:
        return float("nan")
    folds = min(5, int(min(y.sum(), n - y.sum())))
    if folds < 2:
        return float("nan")
    return float(cross_val_score(LogisticRegression(), x, y, cv=folds).mean())


def confound_table(diffs: np.ndarray, chosen_first: Sequence[bool | None] | None = None,
                   *, seed: int = 0) -> dict[str, dict[str, Any]]:
    """Per feature: share, CI, rule accuracy; plus ``position`` when the layout records
    where the winner stood, and ``all features`` (the cross-validated feature-only rule).

    Args:
        diffs: ``(n, len(FEATURES))`` chosen-minus-rejected feature values.
        chosen_first: per pair, whether the chosen reply came first (None: unknown).
    """
    diffs = np.asarray(diffs, dtype=np.float64).reshape(-1, len(FEATURES))
    table = {name: _one(diffs[:, j], desc) for j, (name, (desc, _f)) in
             enumerate(FEATURES.items())}
    known = [] if chosen_first is None else [c for c in chosen_first if c is not None]
    if known:
        first = np.array([1.0 if c else -1.0 for c in known])
        table["position"] = _one(first, "the chosen reply came first")
    else:
        table["position"] = {"share": None, "ci95": None, "rule_accuracy": None,
                             "pairs_differing": 0, "pairs": len(diffs),
                             "means": "not recorded: chosen/rejected columns carry no order "
                                      "(give response_a/response_b with a preference)"}
    rule = _feature_rule(diffs, seed) if len(diffs) else float("nan")
    table["all features"] = {"share": None, "ci95": None, "rule_accuracy": rule,
                             "pairs_differing": None, "pairs": len(diffs),
                             "means": "5-fold cross-validated logistic regression on the "
                                      "feature differences"}
    return table
