"""Label-noise injection and co-filtering on real HH pairs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from _tolerance import fp32_slack
from rewardlab.errors import ConfigError
from rewardlab.label.noise import co_filter, inject_label_noise
from rewardlab.models.embedding import EmbeddingRewardModel
from rewardlab.train.losses import flip_posterior


def test_injection_flips_exactly_the_share_asked_and_is_seeded(hh_small) -> None:
    data = hh_small[0]
    noisy, flipped = inject_label_noise(data, 0.25, seed=3)
    assert len(flipped) == round(0.25 * len(data))
    again, flipped_again = inject_label_noise(data, 0.25, seed=3)
    assert flipped.tolist() == flipped_again.tolist() and noisy == again
    for i, (clean, dirty) in enumerate(zip(data.records, noisy.records, strict=True)):
        swapped = (dirty.chosen, dirty.rejected) == (clean.rejected, clean.chosen)
        assert swapped == (i in set(flipped.tolist()))
    assert inject_label_noise(data, 0.0)[1].size == 0
    with pytest.raises(ConfigError, match="rate"):
        inject_label_noise(data, 1.5)


def test_co_filter_drops_the_pairs_its_peers_find_least_plausible(hh_small) -> None:
    data = hh_small[0]
    noisy, _ = inject_label_noise(data, 0.4, seed=0)
    kept, report = co_filter(lambda seed: EmbeddingRewardModel(epochs=10, seed=seed), noisy,
                             drop_rate=0.25, seed=0)
    assert report.n_dropped == round(0.25 * len(data)) == len(data) - len(kept)
    # dropped pairs are exactly those with the lowest peer margins
    threshold = np.sort(report.peer_margin)[report.n_dropped - 1]
    assert (report.peer_margin[report.dropped] <= threshold).all()
    kept_ids = {r.line for r in kept.records}
    assert not kept_ids & {noisy.records[i].line for i in report.dropped}
    assert report.to_json() == {"n_pairs": len(data), "n_dropped": report.n_dropped,
                                "drop_rate": 0.25}


def test_noise_aware_fit_stops_where_held_out_folds_peak(hh_small) -> None:
    noisy, _ = inject_label_noise(hh_small[0], 0.4, seed=1)
    robust = EmbeddingRewardModel(epochs=12, seed=0).fit(noisy, noise_rate=0.4)
    plain = EmbeddingRewardModel(epochs=12, seed=0).fit(noisy)
    report = robust.noise_report_
    assert report["method"] == "noise-aware likelihood" and report["folds"] == 5
    assert len(report["cv_loglik"]) == 12
    # the final head ran for the epoch count where the held-out folds peaked (two epochs
    # may tie once the report rounds the curve to 5 decimals)
    assert report["cv_loglik"][report["epochs"] - 1] == max(report["cv_loglik"])
    assert len(robust.history_) == report["epochs"] and len(plain.history_) == 12
    prompts = [r.prompt for r in noisy.records]
    chosen = robust.score(prompts, [r.chosen for r in noisy.records])
    rejected = robust.score(prompts, [r.rejected for r in noisy.records])
    # the fit computed its margins in other batches: one within float32 round-off of the
    # posterior's 0.5 boundary may fall on either side (the posterior falls as margins rise)
    slack = 2 * fp32_slack(chosen, rejected)

    def down_weighted(margins: np.ndarray) -> int:
        return int((flip_posterior(torch.from_numpy(margins), 0.4).numpy() > 0.5).sum())

    margins = chosen - rejected
    assert (down_weighted(margins + slack) <= report["n_down_weighted"]
            <= down_weighted(margins - slack))
    prompts = [r.prompt for r in hh_small[1]]
    replies = [r.chosen for r in hh_small[1]]
    assert not np.allclose(robust.score(prompts, replies), plain.score(prompts, replies))


def test_noise_aware_fit_refuses_a_rate_it_cannot_model(hh_small) -> None:
    with pytest.raises(ConfigError, match=r"noise rate must be in \(0, 0.5\)"):
        EmbeddingRewardModel(epochs=2).fit(hh_small[0], noise_rate=0.5)
