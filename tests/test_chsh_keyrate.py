"""Tests of the CHSH key rate and entropy-accumulation key length (protocols.qkd.chsh_keyrate).

Expected values are computed here independently of the code under test: the Pironio et al.
(2009) formula in terms of S with the test's own binary entropy, its depolarising threshold
(QBER about 7.1 %, the published value), and the DFR Theorem 4.4 terms written out by hand.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.optimize import brentq

from protocols.cli import main
from protocols.qkd.chsh import CHSHParameters
from protocols.qkd.chsh_keyrate import (QUANTUM_WINNING_PROBABILITY, asymptotic_rate, chsh_key_length,
                                        min_tradeoff, minimum_rounds, noise_threshold, pironio_entropy,
                                        pironio_slope)


def _h(p: float) -> float:
    return 0.0 if p in (0.0, 1.0) else -p * math.log2(p) - (1 - p) * math.log2(1 - p)


def _pironio_rate(s_value: float, qber: float) -> float:
    """r = 1 - h(Q) - h(1/2 + 1/2 sqrt((S/2)^2 - 1)), S in [2, 2 sqrt 2]."""
    return 1.0 - _h(qber) - _h(0.5 + 0.5 * math.sqrt((s_value / 2) ** 2 - 1.0))


def _depolarised(noise: float) -> tuple[float, float]:
    """(S, QBER) of the noisy singlet: S = 2 sqrt 2 (1 - xi), QBER = xi/2."""
    return 2 * math.sqrt(2) * (1 - noise), noise / 2


@pytest.mark.parametrize("s_value,qber", [(2.8284, 0.0), (2.7, 0.01), (2.6, 0.03), (2.45, 0.0), (2.3, 0.05)])
def test_asymptotic_rate_is_the_pironio_formula(s_value, qber):
    rate = asymptotic_rate(winning=(s_value + 4) / 8, qber=qber)
    assert rate.signed_rate == pytest.approx(_pironio_rate(s_value, qber), abs=1e-12)
    assert rate.adversary == "quantum"


def test_local_statistics_give_no_entropy():
    assert pironio_entropy(0.75) == 0.0 and pironio_entropy(0.6) == 0.0
    assert asymptotic_rate(winning=0.75, qber=0.0).rate == 0.0


def test_depolarising_threshold_is_qber_7_1_percent():
    root = brentq(lambda xi: _pironio_rate(*_depolarised(xi)), 0.01, 0.25, xtol=1e-13)
    threshold = noise_threshold()
    assert threshold <= root < threshold + 2e-6  # rounded down
    assert threshold / 2 == pytest.approx(0.071, abs=0.0006)  # Pironio et al. 2009: QBER ~ 7.1 %


def test_g_is_convex_and_every_tangent_lies_below_it():
    grid = np.linspace(0.0, QUANTUM_WINNING_PROBABILITY, 4001)
    values = pironio_entropy(grid)
    assert np.all(np.diff(values, 2) >= -1e-12)
    for tangent in (0.7501, 0.78, 0.81, 0.84, 0.85):
        intercept, slope = min_tradeoff(tangent)
        assert np.all(intercept + slope * grid <= values + 1e-15)
        numeric = (pironio_entropy(tangent + 1e-6) - pironio_entropy(tangent - 1e-6)) / 2e-6
        assert slope == pytest.approx(numeric, rel=1e-5)
    assert pironio_slope(0.75 + 1e-12) == pytest.approx(4 / math.log(2), rel=1e-4)


def test_key_length_terms_follow_dfr_theorem_4_4():
    n, gamma, tangent, threshold, cap, leak = 10**8, 0.1, 0.83, 0.84, 10_100_000, 9_000_000
    eps_ea, eps_s, eps_pa = 3e-10, 2e-10, 2e-10
    key = chsh_key_length(rounds=n, gamma=gamma, threshold=threshold, tangent_point=tangent, test_round_cap=cap,
                          leaked_bits=leak, eps_ea=eps_ea, eps_smooth=eps_s, eps_pa=eps_pa)
    g = lambda w: 1 - _h(0.5 + 0.5 * math.sqrt(16 * w * (w - 1) + 3))  # noqa: E731
    slope = (g(tangent + 1e-7) - g(tangent - 1e-7)) / 2e-7
    t = g(tangent) + slope * (threshold - tangent)
    v = 2 * (math.log2(13) + math.ceil(slope / gamma)) * math.sqrt(1 - 2 * math.log2(eps_s * eps_ea))
    expected = n * t - v * math.sqrt(n) - 2 * cap - leak - 1 - 2 * math.log2(1 / eps_pa)
    assert key.bits <= expected
    assert key.bits == pytest.approx(expected, abs=2e-6 * n)
    assert key.eps_secrecy == pytest.approx(eps_ea + 2 * eps_s + eps_pa)
    terms = key.to_dict()
    for name in ("entropy_term", "second_order_term", "test_output_term", "leakage_term", "flag_term",
                 "privacy_amplification_term", "theorem", "device_assumption"):
        assert name in terms
    assert terms["adversary"] == "quantum" and "Dupuis-Fawzi-Renner" in terms["theorem"]
    assert "memory" in terms["device_assumption"]


def _planned_bits(rounds: int, noise: float) -> int:
    return CHSHParameters(rounds=rounds, noise=noise).plan.bits


@pytest.mark.parametrize("noise", [0.0, 0.02, 0.05])
def test_finite_key_never_exceeds_n_times_the_asymptotic_rate(noise):
    rate = _pironio_rate(*_depolarised(noise))
    for rounds in (10**6, 10**7, 10**8, 10**9):
        assert _planned_bits(rounds, noise) <= rounds * rate


def test_finite_key_grows_with_n_and_falls_with_noise():
    lengths = [_planned_bits(n, 0.0) for n in (10**7, 3 * 10**7, 10**8)]
    assert 0 < lengths[0] < lengths[1] < lengths[2]
    by_noise = [_planned_bits(10**8, xi) for xi in (0.0, 0.01, 0.02)]
    assert by_noise[0] > by_noise[1] > by_noise[2] > 0


def test_key_is_zero_below_the_minimum_rounds_the_planner_reports():
    needed = minimum_rounds(lambda n: _planned_bits(n, 0.0))
    assert needed is not None and 10**6 < needed < 10**7
    assert _planned_bits(needed, 0.0) > 0
    assert _planned_bits(int(needed / 1.02), 0.0) == 0
    assert _planned_bits(10**5, 0.0) == 0
    assert minimum_rounds(lambda n: _planned_bits(n, 0.2)) is None  # above the noise threshold


def test_pr_box_statistics_are_clamped_and_said():
    pr = chsh_key_length(rounds=10**8, gamma=0.1, threshold=1.0, tangent_point=0.83, test_round_cap=10**7,
                         leaked_bits=0, eps_ea=1e-10, eps_smooth=1e-10, eps_pa=1e-10)
    tsirelson = chsh_key_length(rounds=10**8, gamma=0.1, threshold=QUANTUM_WINNING_PROBABILITY, tangent_point=0.83,
                                test_round_cap=10**7, leaked_bits=0, eps_ea=1e-10, eps_smooth=1e-10, eps_pa=1e-10)
    assert pr.clamped and "clamped" in pr.note and not tsirelson.clamped
    assert pr.entropy_rate == tsirelson.entropy_rate and pr.bits == tsirelson.bits


def _run(argv, capsys):
    try:
        status = main(argv)
    except SystemExit as exc:
        status = exc.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_cli_observed_statistics_json(capsys):
    status, out, _ = _run(["rate", "--protocol", "chsh", "--chsh", "2.8", "--qber", "0.005", "--rounds", "1e8",
                           "--json"], capsys)
    payload = json.loads(out)
    assert status == 0 and payload["key_length"] > 0 and payload["adversary"] == "quantum"
    assert payload["key_length"] <= 1e8 * _pironio_rate(2.8, 0.005)
    status, out, _ = _run(["rate", "--protocol", "chsh", "--chsh", "4", "--qber", "0", "--rounds", "1e8",
                           "--json"], capsys)
    payload = json.loads(out)
    assert payload["clamped"] is True and "clamped" in payload["note"]


def test_cli_noise_threshold_and_default_protocol(capsys):
    status, out, _ = _run(["rate", "--protocol", "chsh", "--noise", "0.02", "--json"], capsys)
    payload = json.loads(out)
    assert status == 0 and payload["rate"] == pytest.approx(_pironio_rate(*_depolarised(0.02)), abs=1e-12)
    assert payload["gamma"] == 0.0
    status, out, _ = _run(["rate", "--protocol", "chsh", "--threshold", "--json"], capsys)
    assert json.loads(out)["qber_threshold"] == pytest.approx(0.0715, abs=0.0006)
    status, out, _ = _run(["rate", "--settings", "7", "--noise", "0", "--json"], capsys)
    assert status == 0 and json.loads(out)["adversary"] == "no-signaling"


@pytest.mark.parametrize("argv", [
    ["--chsh", "4.5", "--qber", "0.01"],
    ["--chsh", "-0.1", "--qber", "0.01"],
    ["--chsh", "2.7", "--qber", "0.6"],
    ["--chsh", "2.7", "--qber", "-0.01"],
    ["--adversary", "no-signaling", "--noise", "0"],
    ["--chsh", "2.7"],
    ["--settings", "2", "--noise", "0"],
])
def test_cli_bad_input_is_one_line_exit_2(argv, capsys):
    status, out, err = _run(["rate", "--protocol", "chsh", *argv], capsys)
    assert status == 2 and out == "" and len(err.strip().splitlines()) == 1
