"""Tests of the quantum-adversary key length of the chained protocol (docs/quantum_chained_key.md).

Expected values are computed here independently of ``protocols.qkd.quantum_keyrate``: the
minimum over theta by brute force on a grid (with ``scipy.special.rel_entr``), the rates by a
grid over gamma. A grid minimum is an *upper* bound on the true minimum, the implementation's
certified value a *lower* bound, so the tests check both the direction and the closeness.
No randomness is used.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.special import rel_entr

from protocols.cli import main
from protocols.qkd import keyrate
from protocols.qkd.quantum_keyrate import (
    KeyRateInputError,
    asymptotic_quantum_rate,
    expected_quantum_key_length,
    key_length_from_statistics,
    quantum_key_length,
    quantum_noise_threshold,
    rate_from_statistics,
)

EPS = 1e-9


def _divergence_bits(w: float, theta: np.ndarray) -> np.ndarray:
    return (rel_entr(w, theta) + rel_entr(1.0 - w, 1.0 - theta)) / math.log(2.0)


def _grid_minimum(w: float, e: float, r: float, m: int) -> float:
    """``min_theta [e D(w||theta) - r log2(1/2 + M theta)]`` on a grid, refined once (upper bound)."""
    theta = np.linspace(1e-9, 1.0 - 1e-9, 200_001)
    values = e * _divergence_bits(w, theta) - r * np.log2(0.5 + m * theta)
    best = int(np.argmin(values))
    low, high = theta[max(best - 2, 0)], theta[min(best + 2, theta.size - 1)]
    fine = np.linspace(low, high, 20_001)
    return float(min(values[best], np.min(e * _divergence_bits(w, fine) - r * np.log2(0.5 + m * fine))))


def _honest_w(m: int, xi: float) -> float:
    return (1.0 - xi) * math.sin(math.pi / (4 * m)) ** 2 + xi / 2.0


def _h(p: float) -> float:
    return 0.0 if p in (0.0, 1.0) else -(p * math.log2(p) + (1 - p) * math.log2(1 - p))


def _grid_rate(m: int, w: float, lam: float, quantum: bool) -> float:
    """Best rate over a gamma grid (each value an upper bound at its gamma, via the theta grid)."""
    best = -math.inf
    for gamma in np.linspace(0.5, 0.995, 100):
        e, r = 2 * gamma**2 / m, (1 - gamma) ** 2
        if quantum:
            value = _grid_minimum(w, e, r, m) - r * _h(lam)
        else:
            value = 2 * _grid_minimum(w, e, r, m) - r * (1 + _h(lam))
        best = max(best, value)
    return best


@pytest.mark.parametrize(
    "w, n_e, n_r, m",
    [(0.0, 1000, 100, 7), (0.0125, 200_000, 20_000, 7), (0.03, 2_000_000, 150_000, 7),
     (0.15, 50_000, 30_000, 2), (0.06, 10_000, 10_000, 3), (0.2, 1000, 10, 7)],
)
def test_entropy_term_is_a_lower_bound_on_the_grid_minimum(w, n_e, n_r, m):
    length = quantum_key_length(bell_value=w, settings=m, rounds=n_e + n_r, estimation_rounds=n_e,
                                raw_key_rounds=n_r, leaked_bits=0, eps=EPS)
    grid = _grid_minimum(w, n_e, n_r, m)
    assert length.entropy_term <= grid
    assert grid - length.entropy_term < 1e-3 * (1.0 + abs(grid))


@pytest.mark.parametrize("n_e, n_r, n_c",
                         [(1000, 100, 0), (200_000, 20_000, 1500), (2_000_000, 150_000, 15_000)])
def test_key_length_matches_independent_formula(n_e, n_r, n_c):
    w, m = 0.0125, 7
    length = quantum_key_length(bell_value=w, settings=m, rounds=n_e + n_r + 17, estimation_rounds=n_e,
                                raw_key_rounds=n_r, leaked_bits=n_c, eps=EPS)
    expected = (_grid_minimum(w, n_e, n_r, m) - n_c - math.log2(n_e + 1) - math.log2(n_e + n_r + 1)
                - 2 * math.log2(1 / EPS))
    assert length.bits <= max(0, math.floor(expected))
    assert length.bits >= max(0, math.floor(expected - 1e-3 * (1 + abs(expected))) - 1)
    assert length.adversary_model == "quantum"


def test_quantum_key_never_shorter_than_no_signaling_key():
    for w in np.linspace(0.0, 0.08, 17):
        for n in (10**4, 10**5, 10**6, 10**7, 10**8):
            for gamma in (0.7, 0.85, 0.95):
                n_e, n_r = math.floor(2 * n * gamma**2 / 7), math.floor(n * (1 - gamma) ** 2)
                n_c = math.ceil(n_r * _h(0.01))
                common = dict(bell_value=float(w), settings=7, rounds=n, estimation_rounds=n_e,
                              raw_key_rounds=n_r, leaked_bits=n_c, eps=EPS)
                quantum = quantum_key_length(**common)
                classical = keyrate.finite_key_length(**common)
                assert quantum.bits >= classical.bits
                assert quantum.unrounded >= classical.unrounded


def test_asymptotic_rates_at_zero_noise_m7():
    quantum = asymptotic_quantum_rate(settings=7, noise=0.0)
    independent = _grid_rate(7, _honest_w(7, 0.0), 0.0, quantum=True)
    assert abs(quantum.rate - independent) < 5e-5
    assert 0.0112 < quantum.rate < 0.0116  # issue 11: about 0.0114
    classical = keyrate.asymptotic_rate(settings=7, noise=0.0)
    assert abs(classical.rate - _grid_rate(7, _honest_w(7, 0.0), 0.0, quantum=False)) < 5e-5
    assert quantum.rate > 2.5 * classical.rate


def test_rate_from_observed_statistics_matches_grid():
    rate = rate_from_statistics(settings=7, bell_value=0.03, error_rate=0.013)
    assert abs(rate.rate - _grid_rate(7, 0.03, 0.013, quantum=True)) < 5e-5
    classical = rate_from_statistics(settings=7, bell_value=0.03, error_rate=0.013, adversary="no-signaling")
    assert classical.rate == 0.0 and classical.adversary_model == "no-signaling"


@pytest.mark.parametrize("m", [2, 3, 7])
def test_no_key_at_or_beyond_the_local_bound(m):
    for w in (1 / (2 * m), 1 / (2 * m) + 0.01, 0.5):
        length = quantum_key_length(bell_value=w, settings=m, rounds=10**9, estimation_rounds=10**8,
                                    raw_key_rounds=10**8, leaked_bits=0, eps=EPS)
        assert length.bits == 0
        assert length.entropy_term <= 1e-6
        assert rate_from_statistics(settings=m, bell_value=w, error_rate=0.0).rate == 0.0


def test_threshold_brackets_sign_change():
    threshold = quantum_noise_threshold(settings=7)
    assert 0.05 < threshold < 0.1
    assert _grid_rate(7, _honest_w(7, threshold - 1e-3), (threshold - 1e-3) / 2, quantum=True) > 0
    assert _grid_rate(7, _honest_w(7, threshold + 1e-3), (threshold + 1e-3) / 2, quantum=True) < 0


def test_expected_key_monotone_in_rounds_and_noise():
    noises = (0.0, 0.02, 0.05)
    table = {xi: [expected_quantum_key_length(settings=7, noise=xi, rounds=n, eps=EPS).bits
                  for n in (10**5, 10**6, 10**7, 10**8)] for xi in noises}
    for xi in noises:
        assert all(a < b for a, b in zip(table[xi], table[xi][1:]))
        assert table[xi][-1] <= asymptotic_quantum_rate(settings=7, noise=xi).rate * 10**8
    for column in range(4):
        values = [table[xi][column] for xi in noises]
        assert all(a >= b for a, b in zip(values, values[1:]))
    assert expected_quantum_key_length(settings=7, noise=0.1, rounds=10**8, eps=EPS).bits == 0


@pytest.mark.parametrize(
    "kwargs",
    [dict(bell_value=0.6, error_rate=0.01), dict(bell_value=-0.1, error_rate=0.01),
     dict(bell_value=0.03, error_rate=0.51), dict(bell_value=0.03, error_rate=0.01, adversary="classical")],
)
def test_bad_statistics_raise_value_error_naming_the_parameter(kwargs):
    with pytest.raises(KeyRateInputError) as info:
        key_length_from_statistics(settings=7, rounds=10**6, eps=EPS, **kwargs)
    assert isinstance(info.value, ValueError)
    name = next(k for k in ("adversary", "error_rate", "bell_value") if k in str(info.value))
    assert name in kwargs


def _run(argv, capsys):
    try:
        status = main(argv)
    except SystemExit as exc:
        status = exc.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_cli_quantum_noise_mode(capsys):
    status, out, _ = _run(["rate", "--adversary", "quantum", "--settings", "7", "--noise", "0.01",
                           "--rounds", "1e7", "--json"], capsys)
    payload = json.loads(out)
    assert status == 0 and payload["adversary_model"] == "quantum"
    expected = expected_quantum_key_length(settings=7, noise=0.01, rounds=10**7, eps=1e-9)
    assert payload["key_length"] == expected.bits
    assert 0 < payload["key_length"] <= payload["rate"] * 1e7


def test_cli_observed_statistics_both_adversaries(capsys):
    argv = ["rate", "--settings", "7", "--bell-value", "0.03", "--qber", "0.013",
            "--rounds", "10000000", "--json"]
    status, out, _ = _run(argv + ["--adversary", "quantum"], capsys)
    quantum = json.loads(out)
    assert status == 0 and quantum["key_length"] > 0
    assert quantum["key_length"] <= quantum["rate"] * 1e7
    status, out, _ = _run(argv, capsys)
    classical = json.loads(out)
    assert status == 3 and classical["key_length"] == 0 and classical["adversary_model"] == "no-signaling"


@pytest.mark.parametrize(
    "extra",
    [["--bell-value", "0.6", "--qber", "0.01", "--rounds", "100"],
     ["--bell-value", "0.03", "--qber", "0.7", "--rounds", "100"],
     ["--bell-value", "0.03", "--rounds", "100"],
     ["--bell-value", "0.03", "--qber", "0.01"],
     ["--adversary", "classical", "--noise", "0"]],
)
def test_cli_bad_input_one_line_exit_2(extra, capsys):
    status, out, err = _run(["rate", "--settings", "7", *extra], capsys)
    assert status == 2 and out == ""
    assert len(err.strip().splitlines()) == 1


def test_cli_threshold_and_auto_settings_quantum(capsys):
    status, out, _ = _run(["rate", "--adversary", "quantum", "--settings", "7", "--threshold", "--json"], capsys)
    payload = json.loads(out)
    assert status == 0 and payload["adversary_model"] == "quantum"
    assert payload["noise_threshold"] == quantum_noise_threshold(settings=7)
    status, out, _ = _run(["rate", "--adversary", "quantum", "--settings", "auto", "--noise", "0", "--json"], capsys)
    payload = json.loads(out)
    rates = {m: _grid_rate(m, _honest_w(m, 0.0), 0.0, quantum=True) for m in (2, 3, 4)}
    assert status == 0 and payload["settings"] == max(rates, key=rates.get)
