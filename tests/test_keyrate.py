"""Tests of protocols.qkd.keyrate against independent computations (paper 000, eqs. 17, 21, 26).

The reference values here come from brute-force grids built with ``scipy.special.rel_entr``
(not the module's code path), from hand derivations, and from the paper's quoted numbers
(Fig. 2 and Sec. III C: rate ~0.004 at xi = 0 for the optimal M = 7, vanishing near
xi = 2.7%, no key for M = 2). A grid minimum over theta is an *upper* bound on the true
minimum, so the module's certified value must lie below it, and close.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import rel_entr
from scipy.stats import entropy

from protocols.qkd.keyrate import (
    KeyRateInputError,
    asymptotic_rate,
    binary_entropy,
    binary_relative_entropy,
    expected_key_length,
    fewest_rounds,
    finite_key_length,
    noise_threshold,
    optimal_settings,
    rate_threshold,
    rounds_for_key,
)

_LN2 = math.log(2.0)


def _divergence_bits(w: float, theta: np.ndarray) -> np.ndarray:
    return (rel_entr(w, theta) + rel_entr(1.0 - w, 1.0 - theta)) / _LN2


def _theta_grid(w: float) -> np.ndarray:
    """Uniform grid on [0, 1) plus a fine grid around the region [w, 4w] where minimisers lie."""
    coarse = np.linspace(0.0, 1.0, 20001)[:-1]
    fine = w + np.linspace(0.0, 3.0 * max(w, 1e-3), 30001)
    return np.unique(np.concatenate([coarse, fine[fine < 1.0]]))


def _grid_rates(settings: int, noise: float, gammas: np.ndarray) -> np.ndarray:
    """Eq. (21) with the theta minimum over a grid (an upper bound on the true rate)."""
    w = (1.0 - noise) * math.sin(math.pi / (4 * settings)) ** 2 + noise / 2.0
    lam = noise / 2.0
    h = entropy([lam, 1.0 - lam], base=2) if 0.0 < lam < 1.0 else 0.0
    theta = _theta_grid(w)
    divergence = _divergence_bits(w, theta)
    penalty = np.log2(0.5 + settings * theta)
    inner = np.empty(gammas.size)
    for start in range(0, gammas.size, 32):
        chunk = gammas[start : start + 32, None]
        e, r = 4.0 * chunk**2 / settings, (1.0 - chunk) ** 2
        inner[start : start + 32] = np.min(e * divergence[None, :] - 2.0 * r * penalty[None, :], axis=1)
    return inner - (1.0 - gammas) ** 2 * (1.0 + h)


# ---------------------------------------------------------------------------------- entropies


@pytest.mark.parametrize("p", [0.0, 1e-6, 0.11, 0.5, 0.9, 1.0])
def test_binary_entropy_matches_scipy(p):
    assert binary_entropy(p) == pytest.approx(entropy([p, 1.0 - p], base=2), abs=1e-12)


def test_binary_relative_entropy_matches_scipy_and_edge_values():
    a = np.array([0.0, 0.1, 0.3, 1.0])
    b = np.array([0.2, 0.4, 0.3, 0.9])
    expected = (rel_entr(a, b) + rel_entr(1 - a, 1 - b)) / _LN2
    np.testing.assert_allclose(binary_relative_entropy(a, b), expected, atol=1e-12)
    assert binary_relative_entropy(0.3, 0.0) == math.inf
    assert binary_relative_entropy(0.0, 0.0) == 0.0
    with pytest.raises(KeyRateInputError, match="b="):
        binary_relative_entropy(0.3, 1.5)


# ---------------------------------------------------------------------------- asymptotic rate


@pytest.mark.parametrize("settings,noise,gamma", [(7, 0.0, 0.887), (5, 0.01, 0.85), (11, 0.02, 0.93), (2, 0.0, 0.9)])
def test_rate_at_fixed_gamma_is_certified_below_and_close_to_grid(settings, noise, gamma):
    grid = float(_grid_rates(settings, noise, np.array([gamma]))[0])
    result = asymptotic_rate(settings=settings, noise=noise, gamma=gamma)
    assert result.signed_rate <= grid
    assert grid - result.signed_rate < 1e-7


def test_headline_rate_at_zero_noise_is_about_0_004_for_m7():
    """Paper 000 Sec. III C / Fig. 2: ~0.004 bits per round at xi = 0 for M = 7."""
    gammas = np.linspace(0.85, 0.92, 701)
    grid = _grid_rates(7, 0.0, gammas)
    best = int(np.argmax(grid))
    result = asymptotic_rate(settings=7, noise=0.0)
    assert 0.0040 < result.rate < 0.0043
    assert result.rate <= float(_grid_rates(7, 0.0, np.array([result.gamma]))[0])
    assert abs(grid[best] - result.rate) < 2e-7
    assert result.gamma == pytest.approx(gammas[best], abs=2e-3)


def test_m7_is_the_optimal_number_of_settings_at_zero_noise():
    gammas = np.linspace(0.5, 0.995, 991)
    brute = {m: float(np.max(_grid_rates(m, 0.0, gammas))) for m in (3, 5, 7, 9, 11, 15)}
    assert max(brute, key=brute.get) == 7
    assert optimal_settings(noise=0.0, max_settings=20).settings == 7
    rates = {m: asymptotic_rate(settings=m, noise=0.0).rate for m in (5, 7, 11, 15)}
    assert rates[7] > max(rates[5], rates[11], rates[15])


def test_m2_gives_no_key_and_m3_a_tiny_one():
    """M = 2: no key (paper). M = 3: the paper says zero; with min over theta it is ~5e-5
    (a discrepancy reported in the module's notes), confirmed here by the grid."""
    gammas = np.linspace(0.01, 0.999, 990)
    assert np.max(_grid_rates(2, 0.0, gammas)) < 0.0
    m2 = asymptotic_rate(settings=2, noise=0.0)
    assert m2.rate == 0.0 and m2.signed_rate < 0.0
    m3 = asymptotic_rate(settings=3, noise=0.0)
    assert 3e-5 < m3.rate < 8e-5
    assert m3.rate <= np.max(_grid_rates(3, 0.0, np.linspace(0.85, 0.99, 1401))) + 1e-12


def test_m7_threshold_near_2_7_percent_and_rounded_down():
    """Fig. 2: the M = 7 curve vanishes near xi = 0.027."""
    threshold = noise_threshold(settings=7)
    assert 0.027 < threshold < 0.028
    gammas = np.linspace(0.5, 0.999, 2000)
    assert np.max(_grid_rates(7, 0.0281, gammas)) <= 0.0  # grid upper bound: no key above
    assert asymptotic_rate(settings=7, noise=threshold).signed_rate > 0.0
    assert asymptotic_rate(settings=7, noise=threshold + 2e-7).signed_rate <= 0.0
    assert noise_threshold(settings=2) == 0.0


# ------------------------------------------------------------------------- finite key length


def test_finite_length_hand_derivation_at_boundary_minimum():
    """w = 0 and N_e >= 2 M N_r put the theta minimiser at 0 (F'(0) = (2N_e - 4 M N_r)/ln 2
    >= 0), where F(0) = -2 N_r log2(1/2) = 2 N_r exactly. So
    N_s = floor(N_r - N_c - 2 log2(8 N_e N / eps))."""
    ne, nr, nc, n, eps = 2_000_000, 100_000, 1_000, 2_200_000, 1e-10
    exact = nr - nc - 2.0 * math.log2(8 * ne * n / eps)
    length = finite_key_length(
        bell_value=0.0, settings=7, rounds=n, estimation_rounds=ne, raw_key_rounds=nr, leaked_bits=nc, eps=eps
    )
    assert length.theta == 0.0
    assert math.floor(exact) - 1 <= length.bits <= math.floor(exact)


@pytest.mark.parametrize(
    "w,ne,nr,nc",
    [(0.0125, 200_000, 10_000, 0), (0.02, 2_000_000, 100_000, 3_000), (0.0, 1_000, 800, 0), (0.3, 50, 5_000, 10)],
)
def test_finite_length_never_exceeds_the_bound_at_any_theta(w, ne, nr, nc):
    """Eq. (65) needs the bound for every theta: N_s may not exceed the expression at any grid
    theta (this is what a max over theta, as printed in eq. 17, would violate)."""
    n, eps, m = ne + nr + 17, 1e-8, 7
    length = finite_key_length(
        bell_value=w, settings=m, rounds=n, estimation_rounds=ne, raw_key_rounds=nr, leaked_bits=nc, eps=eps
    )
    theta = _theta_grid(w)
    values = 2 * ne * _divergence_bits(w, theta) - 2 * nr * np.log2(0.5 + m * theta)
    values = values - nr - nc - 2 * math.log2(8 * ne * n / eps)
    assert length.bits <= max(0.0, float(np.min(values)))
    assert length.unrounded <= float(np.min(values))
    assert float(np.min(values)) - length.unrounded < 1e-3 + 1e-9 * (ne + nr)
    at_w = -2 * nr * math.log2(0.5 + m * w) - nr - nc - 2 * math.log2(8 * ne * n / eps)
    assert length.unrounded <= at_w


def test_pr_box_key_depends_on_the_estimation_share():
    """W-bar = 0 (a PR-type box). With the rounds split of the M = 7 optimum (gamma ~ 0.887:
    N_e ~ 0.225 N >= 2 M N_r ~ 0.179 N) the minimiser is theta = 0 and, by hand,
    N_s = floor(N_r - 2 log2(8 N_e N / eps)). With N_e < 2 M N_r the penalty
    -2 N_r log2(1/2 + M theta) is negative for theta > 1/(2M), and eq. (17) can give no key even
    for W-bar = 0 (grid check: the bracket is negative at theta = 0.7)."""
    n, ne, nr, eps = 10**6, 225_000, 12_800, 1e-9
    length = finite_key_length(
        bell_value=0.0, settings=7, rounds=n, estimation_rounds=ne, raw_key_rounds=nr, leaked_bits=0, eps=eps
    )
    exact = nr - 2.0 * math.log2(8 * ne * n / eps)
    assert math.floor(exact) - 1 <= length.bits <= math.floor(exact)
    ne, nr = 200_000, 600_000
    at_07 = 2 * ne * _divergence_bits(0.0, np.array([0.7]))[0] - 2 * nr * math.log2(0.5 + 7 * 0.7) - nr
    assert at_07 < 0.0
    short = finite_key_length(
        bell_value=0.0, settings=7, rounds=n, estimation_rounds=ne, raw_key_rounds=nr, leaked_bits=0, eps=eps
    )
    assert short.bits == 0


def test_expected_key_length_approaches_the_asymptotic_rate():
    rate = asymptotic_rate(settings=7, noise=0.01)
    expected = expected_key_length(settings=7, noise=0.01, rounds=10**10, eps=1e-9, gamma=rate.gamma)
    assert expected.bits / 1e10 == pytest.approx(rate.rate, rel=0.02)
    assert expected.bits / 1e10 <= rate.rate
    optimised = expected_key_length(settings=7, noise=0.01, rounds=10**6, eps=1e-6)
    fixed = expected_key_length(settings=7, noise=0.01, rounds=10**6, eps=1e-6, gamma=rate.gamma)
    assert optimised.key_length.unrounded >= fixed.key_length.unrounded - 1e-6
    assert expected_key_length(settings=7, noise=0.01, rounds=10**4, eps=1e-6).bits == 0


def test_fewest_rounds_finds_a_known_crossing_and_never_returns_a_failing_n():
    """``fewest_rounds`` (brentq on log N) against margins whose crossing is known exactly."""
    for crossing in (1, 7, 12_345, 98_765_432):
        found = fewest_rounds(lambda n, c=crossing: n - c, 10**12)
        assert crossing <= found <= crossing * (1 + 2e-5) + 1
    assert fewest_rounds(lambda n: n - 10**9 - 0.5, 10**9) is None
    stepped = fewest_rounds(lambda n: 1.0 if n >= 77_000 else -1.0, 10**9)  # a step at 77,000
    assert 77_000 <= stepped <= 77_002
    with pytest.raises(TypeError, match="not a bool"):
        fewest_rounds(lambda n: n > 5, 100)


@pytest.mark.parametrize("crossing", [1e-9, 0.0123456789, 0.3, 0.4999999])
def test_rate_threshold_is_rounded_down_to_within_1e_7(crossing):
    found = rate_threshold(lambda xi: crossing - xi, settings=7)
    assert crossing - 1e-7 <= found < crossing
    assert rate_threshold(lambda xi: -1.0 - xi, settings=7) == 0.0


def test_rounds_for_key_is_nearly_the_fewest():
    needed = rounds_for_key(settings=7, noise=0.01, eps=1e-9, bits=100)
    assert expected_key_length(settings=7, noise=0.01, rounds=needed, eps=1e-9).bits >= 100
    assert expected_key_length(settings=7, noise=0.01, rounds=int(needed * 0.999), eps=1e-9).bits < 100


# --------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "override,name",
    [
        ({"eps": 0.0}, "eps"),
        ({"eps": 1.0}, "eps"),
        ({"estimation_rounds": 0}, "estimation_rounds"),
        ({"raw_key_rounds": 0}, "raw_key_rounds"),
        ({"bell_value": -0.1}, "bell_value"),
        ({"bell_value": 1.2}, "bell_value"),
        ({"settings": 1}, "settings"),
        ({"leaked_bits": -1}, "leaked_bits"),
        ({"rounds": 100}, "rounds"),
    ],
)
def test_finite_length_rejects_bad_input(override, name):
    arguments = dict(
        bell_value=0.01, settings=7, rounds=10_000, estimation_rounds=1_000, raw_key_rounds=5_000,
        leaked_bits=0, eps=1e-6,
    )
    arguments.update(override)
    with pytest.raises(KeyRateInputError, match=f"^{name}="):
        finite_key_length(**arguments)


@pytest.mark.parametrize(
    "call,name",
    [
        (lambda: asymptotic_rate(settings=7, noise=1.5), "noise"),
        (lambda: asymptotic_rate(settings=7, noise=0.0, gamma=1.0), "gamma"),
        (lambda: asymptotic_rate(settings=1, noise=0.0), "settings"),
        (lambda: expected_key_length(settings=7, noise=0.0, rounds=0, eps=1e-6), "rounds"),
        (lambda: noise_threshold(settings=0), "settings"),
    ],
)
def test_rate_functions_reject_bad_input(call, name):
    with pytest.raises(KeyRateInputError, match=f"^{name}="):
        call()

