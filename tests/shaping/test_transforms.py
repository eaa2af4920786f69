"""PAR / log-sigmoid, process-reward clip and delta, length penalties: bounds, order, values."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from rewardlab.errors import ConfigError
from rewardlab.shaping import (
    clip_process_rewards,
    delta_process_rewards,
    kimi_length_rewards,
    lsc_rewards,
    overlong_penalty,
    par_rewards,
)

SETTINGS = settings(max_examples=60, deadline=None)
finite = st.floats(-1e6, 1e6)
vectors = hnp.arrays(np.float64, st.integers(1, 30), elements=finite)


@SETTINGS
@given(vectors, finite)
def test_par_is_bounded_monotone_and_half_at_the_reference(r: np.ndarray, ref: float) -> None:
    out = par_rewards(r, ref)
    assert ((out >= 0) & (out <= 1)).all()
    order = np.argsort(r, kind="stable")
    assert np.all(np.diff(out[order]) >= 0)
    assert par_rewards([ref], ref)[0] == pytest.approx(0.5)
    log = lsc_rewards(r, ref)
    assert (log <= 0).all() and np.isfinite(log).all()  # stable for huge gaps, no -inf
    assert np.all(np.diff(log[order]) >= 0)
    np.testing.assert_allclose(np.exp(log), out, rtol=1e-9, atol=1e-300)


def test_par_references_per_group_and_several() -> None:
    r = np.array([[0.0, 2.0], [5.0, 7.0]])
    per_group = par_rewards(r, np.array([[1.0], [6.0]]))
    np.testing.assert_allclose(per_group, 1 / (1 + np.exp(-np.array([[-1.0, 1.0],
                                                                       [-1.0, 1.0]]))))
    many = par_rewards(r, np.array([[[1.0, 3.0]], [[6.0, 8.0]]]))  # (2, 1, M=2)
    np.testing.assert_allclose(many[0, 1], (par_rewards(2.0, 1.0) + par_rewards(2.0, 3.0)) / 2)
    with pytest.raises(ConfigError, match="'reference' parameter of par_rewards"):
        par_rewards(r, np.zeros(3))
    with pytest.raises(ConfigError, match=r"reference\[1\] is nan"):
        par_rewards([1.0, 2.0], [0.0, np.nan])
    assert np.isnan(par_rewards([1.0, np.nan], 0.0, nan_policy="propagate")[1])


@SETTINGS
@given(hnp.arrays(np.float64, (4, 6), elements=st.floats(0, 1)), st.floats(0, 1))
def test_clip_is_non_positive_and_monotone(r: np.ndarray, eta: float) -> None:
    out = clip_process_rewards(r, threshold=eta)
    assert (out <= 0).all()
    flat_r, flat_o = r.ravel(), out.ravel()
    order = np.argsort(flat_r, kind="stable")
    assert np.all(np.diff(flat_o[order]) >= 0)
    assert (out[r >= eta] == 0).all()


@SETTINGS
@given(hnp.arrays(np.float64, (5, 7), elements=st.floats(0, 1)),
       hnp.arrays(np.int64, 5, elements=st.integers(0, 7)), st.booleans())
def test_delta_returns_telescope(r: np.ndarray, lengths: np.ndarray, keep_last: bool) -> None:
    """The return from step t is r_t - r_K (or r_t with keep_last): bounded by the PRM range."""
    padded = np.where(np.arange(7) < lengths[:, None], r, np.nan)  # padding may be anything
    out = delta_process_rewards(padded, lengths=lengths, keep_last=keep_last)
    returns = np.cumsum(out[:, ::-1], axis=1)[:, ::-1]
    for i, n in enumerate(lengths):
        if n == 0:
            assert (out[i] == 0).all()
            continue
        expected = r[i, :n] - (0.0 if keep_last else r[i, n - 1])
        np.testing.assert_allclose(returns[i, :n], expected, atol=1e-12)
        assert (out[i, n:] == 0).all()
        assert np.all(np.abs(returns[i, :n]) <= 1.0 + 1e-12)


def test_delta_flat_layout_and_errors() -> None:
    steps = np.array([0.9, 0.2, 0.6, 0.5, 0.4])
    ids = np.array(["a", "a", "a", "b", "b"])
    np.testing.assert_allclose(delta_process_rewards(steps, ids), [0.7, -0.4, 0.0, 0.1, 0.0])
    np.testing.assert_allclose(delta_process_rewards(steps, ids, keep_last=True),
                               [0.7, -0.4, 0.6, 0.1, 0.4])
    with pytest.raises(ConfigError, match="response 'a' starting again at step 3"):
        delta_process_rewards(steps, ["a", "a", "b", "a", "a"])
    with pytest.raises(ConfigError, match=r"step_rewards\[1\] is nan"):
        delta_process_rewards([0.1, np.nan], [0, 0])
    with pytest.raises(ConfigError, match="2-D"):
        delta_process_rewards([0.1, 0.2])


def test_overlong_penalty_is_dapo_eq_13() -> None:
    lengths = np.arange(0, 130)
    out = overlong_penalty(lengths, max_length=100, cache_length=20)
    assert ((out <= 0) & (out >= -1)).all() and np.all(np.diff(out) <= 0)
    assert out[80] == 0 and out[90] == -0.5 and out[100] == -1 and out[129] == -1
    hard = overlong_penalty([99, 100, 101], max_length=100, cache_length=0)
    assert hard.tolist() == [0.0, 0.0, -1.0]
    with pytest.raises(ConfigError, match="cache_length"):
        overlong_penalty([1], max_length=10, cache_length=20)


def test_overlong_penalty_agrees_with_trl() -> None:
    rewards = pytest.importorskip("trl.rewards")
    trl_fn = rewards.get_soft_overlong_punishment(max_completion_len=64, soft_punish_cache=16)
    lengths = [1, 40, 48, 49, 55, 63, 64, 65, 100]
    expected = trl_fn(completion_ids=[[0] * n for n in lengths])
    np.testing.assert_allclose(overlong_penalty(lengths, max_length=64, cache_length=16),
                               expected)


@SETTINGS
@given(hnp.arrays(np.int64, (3, 5), elements=st.integers(1, 500)),
       hnp.arrays(np.bool_, (3, 5)))
def test_kimi_length_rewards_bounded_and_favour_short(lengths: np.ndarray,
                                                      correct: np.ndarray) -> None:
    out = kimi_length_rewards(lengths, correct)
    assert ((out >= -0.5) & (out <= 0.5)).all()
    assert (out[~correct] <= 0).all()
    for g in range(3):
        for ok in (True, False):
            sel = correct[g] == ok
            order = np.argsort(lengths[g][sel], kind="stable")
            assert np.all(np.diff(out[g][sel][order]) <= 0)
    flat = kimi_length_rewards(lengths.ravel(), correct.ravel(), groups=np.repeat([5, 1, 3], 5))
    np.testing.assert_allclose(flat, out.ravel())


def test_kimi_same_length_group_gets_zero() -> None:
    assert kimi_length_rewards([[7, 7]], [[True, False]]).tolist() == [[0.0, 0.0]]


def test_transforms_keep_torch() -> None:
    torch = pytest.importorskip("torch")
    r = torch.tensor([0.0, 1.0], dtype=torch.float32)
    for out in (par_rewards(r, 0.5), lsc_rewards(r, torch.tensor(0.5)),
                clip_process_rewards(r, threshold=0.5), overlong_penalty(r, max_length=1,
                                                                         cache_length=1)):
        assert isinstance(out, torch.Tensor) and out.dtype == torch.float32


def test_nan_messages_offer_only_policies_that_exist() -> None:
    with pytest.raises(ConfigError, match=r"lengths\[1\] is nan\. Find out where it came from\.$"):
        overlong_penalty([1, np.nan], max_length=4, cache_length=2)
    with pytest.raises(ConfigError, match=r"step_rewards\[0, 0\] is nan.*'propagate'"):
        clip_process_rewards([[np.nan]], threshold=0.5)
    with pytest.raises(ConfigError, match=r"lengths\[0, 1\] is inf"):
        kimi_length_rewards([[1, np.inf]], [[True, True]])
