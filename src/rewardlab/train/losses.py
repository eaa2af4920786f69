"""Pairwise reward-model losses as pure tensor functions.

All take the rewards of the chosen and rejected responses of a batch of pairs (shape ``(n,)``)
and return a scalar loss, so they can be tested without a model and shared by every trainer.

Relations:
    * ``bradley_terry_loss`` is the classic RLHF reward loss (InstructGPT; TRL's RewardTrainer):
      ``-log σ(r_c - r_r)``.
    * with ``margin`` it is Llama 2's margin loss ``-log σ(r_c - r_r - m)``: pairs rated
      "much better" must be separated by more.
    * with ``label_smoothing=ε`` it is the conservative loss that assumes a fraction ε of labels
      are flipped: ``-(1-ε) log σ(d) - ε log σ(-d)``.
    * with ``flip_rate=ε`` it is the likelihood of the *observed* label when a share ε of
      labels is flipped at random, ``-log((1-ε) σ(d) + ε σ(-d))`` (forward loss correction,
      Natarajan et al., NeurIPS 2013; Patrini et al., CVPR 2017). Unlike label smoothing it is
      bounded: a pair the model confidently disagrees with costs at most ``-log ε`` and its
      gradient fades, so flipped pairs cannot be memorised at any price.
    * ``hinge_loss`` is the ranking hinge ``max(0, 1 - (r_c - r_r))`` (with ``margin``, the
      gap required is the margin); it stops pushing pairs that are already well separated.
    * ``center_coef`` adds TRL's reward-centring term ``coef * mean((r_c + r_r)^2)``, which
      pins the rewards' mean near zero without changing their order (Eisenstein et al., 2023).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from rewardlab._validation import check_option, check_positive, check_range
from rewardlab.errors import ConfigError

if TYPE_CHECKING:
    import torch

__all__ = ["LOSSES", "bradley_terry_loss", "flip_posterior", "hinge_loss", "noise_aware_loglik",
           "pairwise_loss", "soft_label_targets"]

#: Names accepted by ``pairwise_loss`` (and ``--loss``).
LOSSES = ("bt", "margin", "label-smoothing", "hinge")


def _reduce(per_pair: torch.Tensor, chosen: torch.Tensor, rejected: torch.Tensor, *,
            weight: torch.Tensor | None, center_coef: float) -> torch.Tensor:
    """(Weighted) mean of per-pair losses plus TRL's centring term, shared by every loss."""
    if weight is not None:
        loss = (per_pair * weight).sum() / weight.sum().clamp_min(1e-12)
    else:
        loss = per_pair.mean()
    if center_coef:
        loss = loss + center_coef * ((chosen + rejected) ** 2).mean()
    return loss


def bradley_terry_loss(
    chosen: torch.Tensor,
    rejected: torch.Tensor,
    *,
    margin: torch.Tensor | None = None,
    label_smoothing: float = 0.0,
    center_coef: float = 0.0,
    weight: torch.Tensor | None = None,
    flip_rate: float = 0.0,
    target: torch.Tensor | None = None,
) -> torch.Tensor:
    """Bradley–Terry negative log-likelihood that ``chosen`` beats ``rejected``.

    Args:
        chosen: rewards of the preferred responses, shape ``(n,)``.
        rejected: rewards of the other responses, shape ``(n,)``.
        margin: optional required reward gap per pair, shape ``(n,)``.
        label_smoothing: probability ε that a pair's label is flipped, in ``[0, 0.5)``.
        center_coef: weight of the reward-centring penalty.
        weight: optional per-pair weights (for down-weighting suspected noisy pairs).
        flip_rate: share ε of labels assumed flipped at random, in ``[0, 0.5)``: the loss
            becomes the noise-aware likelihood ``-log((1-ε) σ(d) + ε σ(-d))``.
        target: optional soft label per pair, the probability that ``chosen`` is better
            (a share of annotator votes): the cross-entropy ``-t log σ(d) - (1-t) log σ(-d)``.

    Returns:
        The mean loss, a scalar tensor.

    Example:
        >>> import torch
        >>> round(bradley_terry_loss(torch.tensor([0.0]), torch.tensor([0.0])).item(), 4)
        0.6931
        >>> bradley_terry_loss(torch.tensor([5.0]), torch.tensor([0.0])).item() < 0.01
        True
    """
    import torch.nn.functional as F

    diff = chosen - rejected
    if margin is not None:
        diff = diff - margin
    per_pair = -F.logsigmoid(diff)
    if flip_rate:
        per_pair = -noise_aware_loglik(diff, flip_rate)
    if label_smoothing:
        per_pair = (1.0 - label_smoothing) * per_pair - label_smoothing * F.logsigmoid(-diff)
    if target is not None:
        per_pair = -target * F.logsigmoid(diff) - (1.0 - target) * F.logsigmoid(-diff)
    return _reduce(per_pair, chosen, rejected, weight=weight, center_coef=center_coef)


def noise_aware_loglik(diff: torch.Tensor, flip_rate: float) -> torch.Tensor:
    """Per-pair ``log((1-ε) σ(d) + ε σ(-d))``: how likely the observed label is, in log space.

    Computed with ``logaddexp`` so that large margins of either sign neither overflow nor
    lose the ``log ε`` floor.

    Example:
        >>> import torch
        >>> round(noise_aware_loglik(torch.tensor([-50.0]), 0.25).item(), 4)  # log 0.25
        -1.3863
    """
    import math

    import torch
    import torch.nn.functional as F

    return torch.logaddexp(math.log1p(-flip_rate) + F.logsigmoid(diff),
                           math.log(flip_rate) + F.logsigmoid(-diff))


def flip_posterior(diff: torch.Tensor, flip_rate: float) -> torch.Tensor:
    """Probability that a pair's label was flipped, given the model's margin ``d`` and ε.

    Bayes' rule on the noise model of ``noise_aware_loglik``: ``ε σ(-d) / ((1-ε) σ(d) +
    ε σ(-d))``. Above 0.5 the loss has, in effect, stopped learning from the pair.
    """
    import math

    import torch
    import torch.nn.functional as F

    return torch.exp(math.log(flip_rate) + F.logsigmoid(-diff)
                     - noise_aware_loglik(diff, flip_rate))


def hinge_loss(
    chosen: torch.Tensor,
    rejected: torch.Tensor,
    *,
    margin: torch.Tensor | None = None,
    center_coef: float = 0.0,
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """Ranking hinge: pairs separated by at least the margin (1 by default) cost nothing.

    Example:
        >>> import torch
        >>> hinge_loss(torch.tensor([2.0, 0.0]), torch.tensor([0.0, 0.0])).item()
        0.5
    """
    per_pair = (1.0 - (chosen - rejected) if margin is None
                else margin - (chosen - rejected)).clamp_min(0.0)
    return _reduce(per_pair, chosen, rejected, weight=weight, center_coef=center_coef)


def pairwise_loss(
    name: str,
    chosen: torch.Tensor,
    rejected: torch.Tensor,
    *,
    margin: torch.Tensor | None = None,
    label_smoothing: float = 0.1,
    center_coef: float = 0.0,
    weight: torch.Tensor | None = None,
    flip_rate: float = 0.0,
    target: torch.Tensor | None = None,
) -> torch.Tensor:
    """The loss named ``name`` (one of ``LOSSES``); trainers call this with their config.
    ``target``: soft labels (``bt`` only).

    ``"margin"`` needs per-pair margins; ``"label-smoothing"`` uses ``label_smoothing``.
    ``flip_rate`` (noise-robust training) turns ``bt`` and ``margin`` into their noise-aware
    likelihood; the other two losses already model noise their own way and refuse it.
    """
    check_option("pairwise_loss", "name", name, LOSSES)
    check_positive("pairwise_loss", "center_coef", center_coef, allow_zero=True)
    if flip_rate:
        check_range("pairwise_loss", "flip_rate", flip_rate, 0.0, 0.5)
        if name in ("hinge", "label-smoothing"):
            raise ConfigError(f"noise-robust training uses the noise-aware Bradley–Terry "
                              f"likelihood, which does not combine with --loss {name}; use "
                              "--loss bt or margin")
    if target is not None and name != "bt":  # before the other losses, which ignore it
        raise ConfigError(f"soft labels train with the Bradley–Terry cross-entropy; they do "
                          f"not combine with --loss {name}; use --loss bt")
    if name == "margin":
        if margin is None:
            raise ConfigError("The 'margin' loss needs a margin for every pair; the data has "
                              "no 'margin' column. Add one or use --loss bt.")
        return bradley_terry_loss(chosen, rejected, margin=margin, center_coef=center_coef,
                                  weight=weight, flip_rate=flip_rate)
    if name == "hinge":
        return hinge_loss(chosen, rejected, margin=margin, center_coef=center_coef,
                          weight=weight)
    if name == "label-smoothing":
        check_range("pairwise_loss", "label_smoothing", label_smoothing, 0.0, 0.5)
        return bradley_terry_loss(chosen, rejected, label_smoothing=label_smoothing,
                                  center_coef=center_coef, weight=weight)
    if target is not None and flip_rate:
        raise ConfigError("soft labels already say how sure each label is; they do not "
                          "combine with noise-robust training")
    return bradley_terry_loss(chosen, rejected, center_coef=center_coef, weight=weight,
                              flip_rate=flip_rate, target=target)


def soft_label_targets(records: Sequence[Any], source: str) -> np.ndarray:
    """Per pair, the share of annotators who preferred the chosen reply (a tie counts half):
    the soft label ``--soft-labels`` trains towards. The chosen reply is the majority's, so
    with PandaLM's coding (1 or 2 = which output, 0 = tie) its share is that of the more
    common of 1 and 2.

    Raises:
        DataError: a pair has no votes, or a different number of votes than the first pair.

    Example:
        >>> from rewardlab.data import PairRecord
        >>> pair = PairRecord(prompt="", chosen="a", rejected="b", id=0, votes=(2, 2, 0))
        >>> soft_label_targets([pair], "x.jsonl").round(3).tolist()
        [0.833]
    """
    from rewardlab.errors import DataError

    out = np.empty(len(records))
    expected = None
    for i, r in enumerate(records):
        votes = getattr(r, "votes", None)
        if not votes:
            raise DataError("has no annotator votes ('votes' or 'meta.votes'), which "
                            "--soft-labels trains on", file=source, line=r.line, field="votes")
        if expected is None:
            expected = len(votes)
        elif len(votes) != expected:
            raise DataError(f"has {len(votes)} votes but the first pair has {expected}; every "
                            "pair needs one vote per annotator", file=source, line=r.line,
                            field="votes")
        ones, twos = votes.count(1), votes.count(2)
        out[i] = (max(ones, twos) + 0.5 * votes.count(0)) / len(votes)
    return out
