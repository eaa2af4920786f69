from __future__ import annotations

import pytest
import torch

from rewardlab.errors import TrainingError
from rewardlab.train import train_pairwise_head


def toy(n: int = 200, d: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(d, generator=g)
    a, b = torch.randn(n, d, generator=g), torch.randn(n, d, generator=g)
    better = (a @ w > b @ w).unsqueeze(1)
    return torch.where(better, a, b), torch.where(better, b, a)


def test_learns_a_separable_preference_and_logs_trl_metrics() -> None:
    chosen, rejected = toy()
    head = torch.nn.Linear(8, 1)
    history = train_pairwise_head(head, chosen, rejected, epochs=40, lr=0.05)
    assert len(history) == 40
    assert set(history[-1]) == {"epoch", "loss", "accuracy", "margin", "reward_mean",
                                "reward_min", "reward_max"}
    assert history[-1]["accuracy"] > 0.95 and history[-1]["loss"] < history[0]["loss"]


def test_same_seed_same_weights() -> None:
    chosen, rejected = toy()
    heads = []
    for _ in range(2):
        torch.manual_seed(1)
        head = torch.nn.Sequential(torch.nn.Dropout(0.2), torch.nn.Linear(8, 1))
        train_pairwise_head(head, chosen, rejected, epochs=3, seed=5)
        heads.append(head[1].weight.detach().clone())
    torch.testing.assert_close(heads[0], heads[1])


def test_training_leaves_the_global_rng_alone() -> None:
    chosen, rejected = toy()
    head = torch.nn.Sequential(torch.nn.Dropout(0.2), torch.nn.Linear(8, 1))
    before = torch.random.get_rng_state().clone()
    train_pairwise_head(head, chosen, rejected, epochs=2)
    assert torch.equal(torch.random.get_rng_state(), before)


def test_nan_loss_stops_with_a_clear_error() -> None:
    chosen, rejected = toy()
    chosen[0, 0] = float("nan")
    with pytest.raises(TrainingError, match=r"loss became nan at epoch 1; lower the learning"):
        train_pairwise_head(torch.nn.Linear(8, 1), chosen, rejected, epochs=2)


def test_noise_aware_head_stops_early_and_down_weights_the_flipped_pairs() -> None:
    from rewardlab.train.loop import train_noise_aware_head

    chosen, rejected = toy(n=300, d=32, seed=3)
    flipped = torch.zeros(300, dtype=torch.bool)
    flipped[torch.randperm(300, generator=torch.Generator().manual_seed(0))[:90]] = True
    noisy_c = torch.where(flipped[:, None], rejected, chosen)
    noisy_r = torch.where(flipped[:, None], chosen, rejected)

    def make_head() -> torch.nn.Module:
        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Linear(32, 256), torch.nn.GELU(),
                                   torch.nn.Linear(256, 1))

    head, history, report = train_noise_aware_head(
        make_head, noisy_c, noisy_r, flip_rate=0.3, epochs=60, lr=0.01, weight_decay=0.0)
    # where the held-out folds peak (two epochs may tie once the report rounds to 5 decimals)
    assert report["cv_loglik"][report["epochs"] - 1] == max(report["cv_loglik"])
    assert len(history) == report["epochs"] < 60
    with torch.no_grad():
        margin = (head(noisy_c) - head(noisy_r)).squeeze(-1)
    down = margin < -torch.log(torch.tensor(0.7 / 0.3))  # posterior flip probability > 0.5
    assert report["n_down_weighted"] == int(down.sum()) > 0
    assert flipped[down].float().mean() > 0.7  # 0.3 by chance: it stops on flipped pairs
    plain = make_head()
    train_pairwise_head(plain, noisy_c, noisy_r, epochs=60, lr=0.01, weight_decay=0.0)
    with torch.no_grad():
        clean = [((h(chosen) - h(rejected)) > 0).float().mean().item() for h in (head, plain)]
    assert clean[0] > clean[1] + 0.03  # the plain head memorised the flips
