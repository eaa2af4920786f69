"""Losses are pure tensor functions: checked against their formulas without a model."""

from __future__ import annotations

import math

import pytest
import torch

from rewardlab.errors import ConfigError
from rewardlab.train import LOSSES, bradley_terry_loss, pairwise_loss

C = torch.tensor([2.0, 0.5, -1.0])
R = torch.tensor([1.0, 1.5, -1.0])


def logsig(x: float) -> float:
    return -math.log1p(math.exp(-x))


def test_bradley_terry_matches_the_formula() -> None:
    expected = -sum(logsig(c - r) for c, r in zip(C.tolist(), R.tolist(), strict=True)) / 3
    assert bradley_terry_loss(C, R).item() == pytest.approx(expected, rel=1e-6)


def test_margin_shifts_the_difference() -> None:
    m = torch.tensor([1.0, 0.0, 2.0])
    triples = zip(C.tolist(), R.tolist(), m.tolist(), strict=True)
    expected = -sum(logsig(c - r - k) for c, r, k in triples) / 3
    assert bradley_terry_loss(C, R, margin=m).item() == pytest.approx(expected, rel=1e-6)


def test_label_smoothing_mixes_both_directions() -> None:
    eps = 0.1
    expected = sum(-(1 - eps) * logsig(c - r) - eps * logsig(r - c)
                   for c, r in zip(C.tolist(), R.tolist(), strict=True)) / 3
    got = bradley_terry_loss(C, R, label_smoothing=eps).item()
    assert got == pytest.approx(expected, rel=1e-6)
    # a smoothed loss does not push an already large margin further
    big = torch.tensor([20.0], requires_grad=True)
    bradley_terry_loss(big, torch.tensor([0.0]), label_smoothing=eps).backward()
    assert big.grad.item() > 0  # gradient pulls the reward back down


def test_centering_adds_tRLs_penalty() -> None:
    base = bradley_terry_loss(C, R).item()
    centred = bradley_terry_loss(C, R, center_coef=0.01).item()
    assert centred - base == pytest.approx(0.01 * ((C + R) ** 2).mean().item(), rel=1e-6)


def test_weights_down_weight_pairs() -> None:
    w = torch.tensor([1.0, 0.0, 1.0])
    keep = torch.tensor([0, 2])
    assert bradley_terry_loss(C, R, weight=w).item() == pytest.approx(
        bradley_terry_loss(C[keep], R[keep]).item(), rel=1e-6)


def test_gradient_separates_the_pair() -> None:
    c = torch.tensor([0.0], requires_grad=True)
    r = torch.tensor([0.0], requires_grad=True)
    bradley_terry_loss(c, r).backward()
    assert c.grad.item() < 0 < r.grad.item()


def test_pairwise_loss_dispatch_and_errors() -> None:
    assert set(LOSSES) == {"bt", "margin", "label-smoothing", "hinge"}
    assert pairwise_loss("bt", C, R).item() == pytest.approx(bradley_terry_loss(C, R).item())
    with pytest.raises(ConfigError, match="'name' parameter of pairwise_loss must be one of"):
        pairwise_loss("hinge?", C, R)
    with pytest.raises(ConfigError, match="needs a margin for every pair"):
        pairwise_loss("margin", C, R)
    with pytest.raises(ConfigError, match="label_smoothing"):
        pairwise_loss("label-smoothing", C, R, label_smoothing=0.7)


def test_hinge_ignores_pairs_already_separated_by_the_margin() -> None:
    from rewardlab.train.losses import hinge_loss

    c, r = torch.tensor([3.0, 0.5, 0.0]), torch.tensor([0.0, 0.0, 1.0])
    # per pair: max(0, 1 - d) = 0, 0.5, 2
    assert hinge_loss(c, r).item() == pytest.approx(2.5 / 3)
    assert hinge_loss(c, r, margin=torch.tensor([4.0, 0.0, 0.0])).item() == pytest.approx(
        (1.0 + 0.0 + 1.0) / 3)
    assert pairwise_loss("hinge", c, r).item() == pytest.approx(hinge_loss(c, r).item())
    weight = torch.tensor([1.0, 0.0, 0.0])
    assert hinge_loss(c, r, weight=weight).item() == 0.0


def test_noise_aware_likelihood_is_bounded_and_stops_pulling_on_confident_flips() -> None:
    from rewardlab.train.losses import flip_posterior

    eps = 0.3
    d = torch.tensor([-40.0, -2.0, 0.0, 2.0, 40.0], requires_grad=True)
    per_pair = [bradley_terry_loss(d[i:i + 1], torch.zeros(1), flip_rate=eps).item()
                for i in range(5)]
    # a pair the model is sure is flipped costs at most -log(eps); plain BT costs ~40
    assert per_pair[0] == pytest.approx(-math.log(eps), rel=1e-5)
    assert bradley_terry_loss(d[:1], torch.zeros(1)).item() == pytest.approx(40.0, rel=1e-6)
    assert per_pair[4] == pytest.approx(-math.log(1 - eps), rel=1e-5)
    assert per_pair == sorted(per_pair, reverse=True)  # still prefers the observed label
    bradley_terry_loss(d, torch.zeros(5), flip_rate=eps).backward()
    assert abs(d.grad[0].item()) < 1e-9 < abs(d.grad[1].item())
    post = flip_posterior(d.detach(), eps)
    assert post[2].item() == pytest.approx(eps)  # no evidence: the prior
    assert post[0].item() == pytest.approx(1.0) and post[4].item() == pytest.approx(0.0)
    assert (post.diff() < 0).all()


def test_noise_aware_likelihood_only_combines_with_bradley_terry_losses() -> None:
    assert pairwise_loss("bt", C, R, flip_rate=0.2).item() == pytest.approx(
        bradley_terry_loss(C, R, flip_rate=0.2).item())
    for name in ("hinge", "label-smoothing"):
        with pytest.raises(ConfigError, match="noise-aware Bradley–Terry"):
            pairwise_loss(name, C, R, flip_rate=0.2)
    with pytest.raises(ConfigError, match="flip_rate"):
        pairwise_loss("bt", C, R, flip_rate=0.5)
