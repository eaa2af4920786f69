"""GRPO, Dr. GRPO, RLOO and GDPO advantages: invariants (property tests) and exact values."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from rewardlab.errors import ConfigError
from rewardlab.shaping import (
    dr_grpo_advantages,
    gdpo_advantages,
    grpo_advantages,
    rloo_advantages,
)

SETTINGS = settings(max_examples=60, deadline=None)

#: Quantised rewards (multiples of 1/8 in [-125, 125]): exact in binary, so a group either
#: varies by at least 1/8 or is exactly constant, and std checks can use tight tolerances.
quantised = hnp.arrays(
    np.float64,
    hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=12),
    elements=st.integers(-1000, 1000).map(lambda v: v / 8),
)
#: Any finite rewards, including wild magnitudes and constant groups.
wild = hnp.arrays(
    np.float64,
    hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=12),
    elements=st.one_of(st.floats(-1e12, 1e12), st.sampled_from([0.0, 1.0, -3.5, 1e-300])),
)


def _quiet(fn, *args, **kwargs):
    """Run with every floating-point warning turned into an error."""
    with warnings.catch_warnings(), np.errstate(divide="raise", invalid="raise", over="raise"):
        warnings.simplefilter("error")
        return fn(*args, **kwargs)


# --- invariants ---------------------------------------------------------------------------


@SETTINGS
@given(wild, st.sampled_from(["group", "batch", "none"]))
def test_group_advantages_sum_to_zero_without_warnings(x: np.ndarray, scale: str) -> None:
    adv = _quiet(grpo_advantages, x, scale=scale)
    assert np.isfinite(adv).all()
    scale_of = np.abs(adv).max(axis=1) + 1.0
    assert np.all(np.abs(adv.sum(axis=1)) <= 1e-9 * x.shape[1] * scale_of)
    for fn in (rloo_advantages, dr_grpo_advantages):
        out = _quiet(fn, x)
        assert np.all(np.abs(out.sum(axis=1)) <= 1e-9 * x.shape[1] * (np.abs(out).max(1) + 1))


@SETTINGS
@given(quantised)
def test_std_normalised_groups_have_unit_std_and_flat_groups_zero(x: np.ndarray) -> None:
    adv = _quiet(grpo_advantages, x, eps=0.0)
    varies = x.max(axis=1) > x.min(axis=1)
    if x.shape[1] > 1:
        np.testing.assert_allclose(adv[varies].std(axis=1, ddof=1), 1.0, rtol=1e-12)
    assert (adv[~varies] == 0.0).all()  # exactly zero: no residue, no division by zero
    # ddof=0 gives unit population std instead
    adv0 = grpo_advantages(x, eps=0.0, ddof=0)
    np.testing.assert_allclose(adv0[varies].std(axis=1), 1.0, rtol=1e-12)


@SETTINGS
@given(st.floats(-1e15, 1e15), st.integers(1, 16), st.integers(1, 5),
       st.sampled_from(["group", "batch", "none"]))
def test_constant_groups_give_exactly_zero(value: float, size: int, n: int, scale: str) -> None:
    """Even for values like 0.1, whose mean is not exact in binary: no residue, no 0/0."""
    x = np.full((n, size), value)
    assert (_quiet(grpo_advantages, x, eps=0.0, scale=scale) == 0.0).all()
    assert (_quiet(rloo_advantages, x) == 0.0).all()
    ids = np.repeat(np.arange(n), size)
    assert (_quiet(grpo_advantages, x.ravel(), ids, eps=0.0) == 0.0).all()


@SETTINGS
@given(quantised)
def test_advantages_keep_the_order_of_rewards_within_a_group(x: np.ndarray) -> None:
    """Every advantage is an increasing function of the reward within its group."""
    for adv in (grpo_advantages(x), dr_grpo_advantages(x), rloo_advantages(x),
                grpo_advantages(x, scale="batch")):
        for row_x, row_a in zip(x, adv, strict=True):
            order = np.argsort(row_x, kind="stable")
            assert np.all(np.diff(row_a[order]) >= 0)
            ties = row_x[:, None] == row_x[None, :]
            assert np.all((row_a[:, None] == row_a[None, :])[ties])


@SETTINGS
@given(quantised, st.randoms(use_true_random=False))
def test_ragged_layout_equals_rows_in_any_order(x: np.ndarray, rnd) -> None:
    """Flat rewards plus group ids, shuffled, give the same advantages as the 2-D rows."""
    n_groups, size = x.shape
    flat = x.ravel()
    ids = np.repeat(np.arange(n_groups) * 7 + 100, size)  # arbitrary, non-contiguous ids
    order = np.arange(flat.size)
    rnd.shuffle(order)
    for fn in (grpo_advantages, dr_grpo_advantages, rloo_advantages):
        expected = fn(x).ravel()[order]
        np.testing.assert_allclose(fn(flat[order], ids[order]), expected, atol=1e-12)
    # string ids take the sorting path and agree too
    np.testing.assert_allclose(grpo_advantages(flat[order], ids[order].astype(str)),
                               grpo_advantages(x).ravel()[order], atol=1e-12)


@SETTINGS
@given(quantised)
def test_rloo_is_reward_minus_mean_of_the_others(x: np.ndarray) -> None:
    adv = rloo_advantages(x)
    k = x.shape[1]
    for g in range(x.shape[0]):
        for i in range(k):
            others = np.delete(x[g], i)
            expected = x[g, i] - others.mean() if k > 1 else 0.0
            assert adv[g, i] == pytest.approx(expected, abs=1e-12)


@SETTINGS
@given(quantised, st.floats(0.01, 100), st.floats(0.01, 100))
def test_gdpo_is_blind_to_each_reward_s_scale(x: np.ndarray, a: float, b: float) -> None:
    """Decoupled normalisation: rescaling one reward does not change the advantages.

    (Summing raw rewards first, as plain GRPO does, would let the larger one dominate.)
    """
    other = np.roll(x, 1, axis=1)
    base = gdpo_advantages([x, other], eps=0.0)
    scaled = gdpo_advantages([a * x, b * other + 3.0], eps=0.0)
    np.testing.assert_allclose(base, scaled, atol=1e-9)
    unbatched = gdpo_advantages([x, other], eps=0.0, batch_normalize=False)
    assert np.all(np.abs(unbatched.sum(axis=1)) < 1e-9)


# --- exact values and layouts --------------------------------------------------------------


def test_grpo_matches_trl_defaults_by_hand() -> None:
    r = np.array([[1.0, 2.0, 4.0, 9.0]])
    std = r.std(ddof=1)
    expected = (r - r.mean()) / (std + 1e-4)
    np.testing.assert_allclose(grpo_advantages(r), expected, rtol=1e-14)
    batch = np.array([[1.0, 3.0], [10.0, 30.0]])
    np.testing.assert_allclose(
        grpo_advantages(batch, scale="batch"),
        (batch - batch.mean(axis=1, keepdims=True)) / (batch.std(ddof=1) + 1e-4))


def test_singleton_and_empty_groups() -> None:
    assert grpo_advantages([[5.0]]).tolist() == [[0.0]]
    assert rloo_advantages([4.0, 1.0, 3.0], groups=[0, 1, 0]).tolist() == [1.0, 0.0, -1.0]
    assert grpo_advantages(np.zeros((0, 4))).shape == (0, 4)
    assert grpo_advantages(np.zeros(0), groups=np.zeros(0, dtype=int)).shape == (0,)


def test_gdpo_names_weights_and_layouts() -> None:
    correct = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 0.0])
    length = np.array([0.2, 0.9, 0.4, 0.1, 0.3, 0.8])
    ids = np.array([0, 0, 0, 1, 1, 1])
    by_name = gdpo_advantages({"correct": correct, "short": -length}, ids,
                              weights={"short": 0.5, "correct": 1.0})
    by_list = gdpo_advantages([correct, -length], ids, weights=[1.0, 0.5])
    stacked = gdpo_advantages(np.stack([correct, -length], axis=-1), ids, weights=[1.0, 0.5])
    grid = gdpo_advantages(np.stack([correct, -length], axis=-1).reshape(2, 3, 2),
                           weights=[1.0, 0.5])
    np.testing.assert_allclose(by_name, by_list)
    np.testing.assert_allclose(by_name, stacked)
    np.testing.assert_allclose(by_name, grid.ravel())
    # the batch normalisation of the paper: mean 0, std 1 over the batch
    # std 1 up to the eps (1e-4) added to the std before dividing
    assert abs(by_name.mean()) < 1e-12 and by_name.std(ddof=1) == pytest.approx(1.0, rel=1e-3)
    # one reward, no batch step: plain GRPO
    np.testing.assert_allclose(gdpo_advantages([correct], ids, batch_normalize=False),
                               grpo_advantages(correct, ids))
    with pytest.raises(ConfigError, match="weights"):
        gdpo_advantages({"a": correct}, ids, weights={"b": 1.0})
    with pytest.raises(ConfigError, match="weights"):
        gdpo_advantages([correct, length], ids, weights=[1.0])
    with pytest.raises(ConfigError, match="shaped like the first"):
        gdpo_advantages([correct, length[:3]], ids)


# --- NaN and bad input ----------------------------------------------------------------------


def test_nan_is_reported_by_index() -> None:
    r = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, np.nan]])
    for fn in (grpo_advantages, dr_grpo_advantages, rloo_advantages):
        with pytest.raises(ConfigError, match=r"rewards\[1, 2\] is nan.*nan_policy='omit'"):
            fn(r)
    with pytest.raises(ConfigError, match=r"rewards\[0\] is inf \(and 1 more\)"):
        grpo_advantages([np.inf, 1.0, -np.inf], groups=[0, 0, 0])
    with pytest.raises(ConfigError, match=r"rewards\['judge'\]\[1\] is nan"):
        gdpo_advantages({"judge": [1.0, np.nan]}, groups=[0, 0])


def test_omit_leaves_missing_rewards_out() -> None:
    r = np.array([[1.0, 2.0, 3.0, np.nan]])
    adv = grpo_advantages(r, nan_policy="omit")
    np.testing.assert_allclose(adv[0, :3], grpo_advantages([[1.0, 2.0, 3.0]])[0])
    assert adv[0, 3] == 0.0
    assert rloo_advantages(r, nan_policy="omit")[0].tolist() == [-1.5, 0.0, 1.5, 0.0]
    # GDPO: a reward missing for one response drops out of that response's sum only
    a = np.array([[1.0, 0.0, np.nan, 1.0]])
    b = np.array([[0.0, 1.0, 1.0, 0.0]])
    out = gdpo_advantages([a, b], nan_policy="omit", batch_normalize=False)
    expected = grpo_advantages(np.array([[1.0, 0.0, 1.0]]))[0]
    np.testing.assert_allclose(out[0, [0, 1, 3]] - grpo_advantages(b)[0, [0, 1, 3]], expected)
    both = gdpo_advantages([a, np.full_like(a, np.nan)], nan_policy="omit")
    assert both[0, 2] == 0.0


def test_layout_errors_say_what_to_pass() -> None:
    with pytest.raises(ConfigError, match="1-D together with 'groups'"):
        grpo_advantages([1.0, 2.0])
    with pytest.raises(ConfigError, match="one group id per reward"):
        grpo_advantages([1.0, 2.0], groups=[0])
    with pytest.raises(ConfigError, match="None when rewards are 2-D"):
        grpo_advantages([[1.0, 2.0]], groups=[0, 0])
    with pytest.raises(ConfigError, match="'scale' parameter of grpo_advantages"):
        grpo_advantages([[1.0, 2.0]], scale="global")
    with pytest.raises(ConfigError, match="nan_policy"):
        grpo_advantages([[1.0, 2.0]], nan_policy="propagate")
    with pytest.raises(ConfigError, match="array of numbers"):
        grpo_advantages([["a", "b"]])


# --- torch in, torch out ----------------------------------------------------------------------


def test_torch_tensors_come_back_as_tensors() -> None:
    torch = pytest.importorskip("torch")
    x = torch.tensor([[1.0, 2.0, 4.0], [0.0, 0.0, 0.0]], dtype=torch.float32)
    for fn in (grpo_advantages, dr_grpo_advantages, rloo_advantages):
        out = fn(x)
        assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
        # float32 arithmetic vs float64 on the same inputs: a few float32 roundings
        np.testing.assert_allclose(out.numpy(), fn(x.double().numpy()), rtol=1e-6)
    ints = torch.tensor([[1, 2], [3, 3]])
    assert grpo_advantages(ints).dtype == torch.get_default_dtype()
    flat = torch.tensor([1.0, 3.0, 5.0], dtype=torch.float64)
    out = grpo_advantages(flat, torch.tensor([0, 0, 1]), eps=0)
    assert out.dtype == torch.float64 and out.tolist() == pytest.approx([-0.5 ** 0.5,
                                                                         0.5 ** 0.5, 0.0])
    gd = gdpo_advantages([x, x * 2])
    assert isinstance(gd, torch.Tensor) and gd.shape == x.shape
