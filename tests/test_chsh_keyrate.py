"""Tests of the CHSH key rate and entropy-accumulation key length (protocols.qkd.chsh_keyrate).

Expected values are computed here independently of the code under test: the Pironio et al.
(2009) formula in terms of S with the test's own binary entropy, its depolarising threshold
(QBER about 7.1 %, the published value), the DFR Theorem 4.4 terms written out by hand, the
second-order statement (Nadlinger et al., Nature 607, 682 (2022), SI Theorem 1) written out by hand,
and the published Oxford key length (95,884 bits, SI Proposition 2) re-evaluated from its eq. (73).
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
                                        chsh_key_length_second_order, convex_minimum_lower_bound,
                                        key_from_statistics, min_tradeoff, minimum_rounds, noise_threshold,
                                        pironio_entropy, pironio_slope, plan_key_length, second_order_k,
                                        second_order_volume, smoothing_theta, tangent_slack_lower_bound)


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
    assert rate.adversary_model == "quantum"


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
    assert terms["adversary_model"] == "quantum" and "Dupuis-Fawzi-Renner" in terms["theorem"]
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
    # 7.6e6 with DFR Thm 4.4 alone; the planner now also uses the second-order statement (about 4.4e5)
    assert needed is not None and 2 * 10**5 < needed < 10**6
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
    assert status == 0 and payload["key_length"] > 0 and payload["adversary_model"] == "quantum"
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
    assert status == 0 and json.loads(out)["adversary_model"] == "no-signaling"


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


# --------------------------------------------------------------------------------------------
# The improved second-order statement (docs step 3b)

_W_MIN = (1 - 1 / math.sqrt(2)) / 2
_W_MAX = (1 + 1 / math.sqrt(2)) / 2


def _eta(w: float) -> float:
    return 0.0 if w <= 0.75 else 1 - _h(0.5 + 0.5 * math.sqrt(max(16 * w * (w - 1) + 3, 0.0)))


def _slope(t: float) -> float:
    return (_eta(t + 1e-7) - _eta(t - 1e-7)) / 2e-7


def _theta(eps: float) -> float:
    """log2(1/(1 - sqrt(1 - eps^2))), via 1 - sqrt(1 - x) = x/(1 + sqrt(1 - x))."""
    return math.log2((1 + math.sqrt(1 - eps * eps)) / (eps * eps))


def _slack_and_k(t: float, gamma: float, alpha: float, points: int = 20001,
                 log_alphabet: float = 2.0) -> tuple[float, float]:
    """(min over a fine omega grid of eta - g_t - (alpha-1) V, K_alpha), written out from Nadlinger et al.
    SI eqs. (61)-(70) with d_A = 4 (log 33, exponent log2 d_A + g_t(1) - g_t(omega_min); the module
    hardens log2 d_A = 2 to 2 log2 d_A = 4, independent review 2026-12-02)."""
    s = _slope(t)
    g = lambda w: _eta(t) + (w - t) * s  # noqa: E731
    ws = np.linspace(_W_MIN, _W_MAX, points)
    lost = gamma * (1 - ws)
    volume = math.log(2) / 2 * (math.log2(33) + np.sqrt(2 + (s / gamma) ** 2 * lost * (1 - lost))) ** 2
    slack = float(np.min(np.array([_eta(w) for w in ws]) - g(ws) - (alpha - 1) * volume))
    spread = log_alphabet + g(1) - g(_W_MIN)
    k = 2 ** ((alpha - 1) * spread) * math.log(2**spread + math.e**2) ** 3 / (6 * (2 - alpha) ** 3 * math.log(2))
    return slack, k


def test_convex_lower_bound_is_below_the_true_minimum_and_close():
    for centre in (0.3, 0.5001, 0.0, 1.0):
        grid = np.linspace(0.0, 1.0, 101)
        bound = float(convex_minimum_lower_bound((grid - centre) ** 2 + np.abs(grid - centre), grid[1] - grid[0]))
        assert bound <= 0.0 and bound > -0.011  # true minimum 0; grid spacing 0.01


@pytest.mark.parametrize("n,gamma,t,w_thr,alpha,cap,leak", [
    (10**7, 0.02, 0.82, 0.84, 1.0005, 201_000, 900_000),
    (1_500_000, 0.05, 0.81, 0.8346, 1.001, 75_100, 155_000),
])
def test_second_order_terms_follow_the_quoted_statement(n, gamma, t, w_thr, alpha, cap, leak):
    eps_ea, eps_s, eps_pa = 4e-11, 2e-11, 2e-11
    key = chsh_key_length_second_order(rounds=n, gamma=gamma, threshold=w_thr, tangent_point=t, alpha=alpha,
                                       test_round_cap=cap, leaked_bits=leak, eps_ea=eps_ea, eps_smooth=eps_s,
                                       eps_pa=eps_pa)
    slack, k = _slack_and_k(t, gamma, alpha, log_alphabet=4.0)  # the hardened exponent (2 log2 d_A)
    w_eff = w_thr + 1 - cap / (gamma * n)  # lost test rounds <= m - gamma n w_thr on the accept event
    h = _eta(t) + _slope(t) * (w_eff - t)
    smoothing = (_theta(eps_s) + alpha * math.log2(1 / eps_ea)) / (alpha - 1)
    smoothing += _theta(eps_s) + math.log2(1 / eps_ea)  # hardening: the original Dupuis-Fawzi reading
    expected = (n * h + n * slack - n * (alpha - 1) ** 2 * k - smoothing - 2 * cap - leak - 1
                - 2 * math.log2(1 / eps_pa))
    assert key.bits <= expected + 1e-6 * n  # never above the statement (slope by finite difference)
    assert key.bits == pytest.approx(expected, abs=2e-5 * n)
    assert key.k_alpha == pytest.approx(k, rel=1e-4)
    assert key.eps_secrecy == pytest.approx(eps_ea + 2 * eps_s + eps_pa)
    assert "Dupuis-Fawzi, IEEE Trans. Inf. Theory 65, 7596" in key.theorem and key.adversary_model == "quantum"


def test_second_order_reduces_to_the_first_order_rate():
    """n -> infinity with alpha -> 1: l/n -> g(w) - 2 gamma - leak/n (the tangent taken at w; tolerance 2e-4)."""
    n, gamma, w = 10**15, 0.01, 0.84
    key = chsh_key_length_second_order(rounds=n, gamma=gamma, threshold=w, tangent_point=w, alpha=1 + 1e-8,
                                       test_round_cap=int(gamma * n), leaked_bits=0, eps_ea=1e-10,
                                       eps_smooth=1e-10, eps_pa=1e-10)
    assert key.bits / n == pytest.approx(_eta(w) - 2 * gamma, abs=2e-4)
    assert key.bits / n < _eta(w) - 2 * gamma


def test_oxford_proposition_2_is_reproduced_from_the_module_terms():
    """Nadlinger et al. (Nature 607, 682 (2022)) SI Proposition 2, eq. (73), for their run: n = 1.5e6,
    gamma = 13/256, omega_thr = 0.825538, m = 296,517, eps_snd = 1e-10 (eps_h = 2^-61); they certify
    95,884 bits. Evaluated at parameters found by a one-off Nelder-Mead search (t = 0.8117, alpha' - 1 =
    6.1e-4, alpha'' - 1 = 3.8e-3), with x - 4 log2(x) <= Upsilon_b(x) (their eq. (55)): within 5 % below."""
    n, gamma, w_thr, m = 1.5e6, 13 / 256, 0.825538, 296_517
    t, alpha1, alpha2 = 0.81169187, 1 + math.exp(-7.3954172), 1 + math.exp(-5.58191089)
    budget = 1e-10 - 4 * 2**-61
    eps_ea, eps_pa = budget, budget / (1 + math.exp(0.06891175))
    eps_s = (budget - eps_pa) / 2
    eps_s1 = eps_s / (1 + math.exp(-1.9194785)) * 0.999
    eps_s2 = (eps_s - eps_s1) / (1 + math.exp(0.1214415)) / 2 * 0.999
    slack, k = _slack_and_k(t, gamma, alpha1)
    module_slack = tangent_slack_lower_bound(tangent_point=t, gamma=gamma, alpha=alpha1)
    assert module_slack <= slack + 1e-9 and module_slack == pytest.approx(slack, abs=1e-5)
    intercept, slope = min_tradeoff(t)
    # the module's K_alpha uses the hardened exponent 2 log2 d_A: never smaller than the statement's
    assert float(second_order_k(alpha1, slope * (1 - _W_MIN))) >= k
    assert float(smoothing_theta(1e-11)) == pytest.approx(_theta(1e-11), rel=1e-12)
    assert float(second_order_volume(0.0)) == pytest.approx(math.log(2) / 2 * (math.log2(33) + math.sqrt(2)) ** 2)
    h = _eta(t) + _slope(t) * (w_thr - t)
    x = (n * h + n * module_slack - n * (alpha1 - 1) ** 2 * k - n * gamma - n * (alpha2 - 1) * math.log2(5) ** 2
         - (_theta(eps_s1) + alpha1 * math.log2(1 / eps_ea)) / (alpha1 - 1)
         - (_theta(eps_s2) + alpha2 * math.log2(1 / eps_ea)) / (alpha2 - 1)
         - 3 * _theta(eps_s - eps_s1 - 2 * eps_s2) - 5 * math.log2(1 / eps_pa) - m - 264)
    published = 95_884
    assert 0.95 * published < x - 4 * math.log2(x) <= published


def test_oxford_statistics_key_is_positive_below_n_times_rate_and_names_the_theorem():
    w, qber, n = (2.677 + 4) / 8, 0.0144, 1_500_000
    plan = key_from_statistics(rounds=n, winning=w, qber=qber, eps=1e-10, tag_bits=34)
    assert 0 < plan.bits <= n * _pironio_rate(2.677, qber)
    assert plan.alpha is not None and "Nadlinger" in plan.key.theorem
    assert plan_key_length(plan, plan.leaked_bits).bits == plan.bits
    first_order = chsh_key_length(rounds=n, gamma=plan.gamma, threshold=w, tangent_point=plan.tangent_point,
                                  test_round_cap=plan.test_round_cap, leaked_bits=plan.leaked_bits, eps_ea=plan.eps_ea,
                                  eps_smooth=plan.eps_smooth, eps_pa=plan.eps_pa)
    assert first_order.bits == 0  # DFR Thm 4.4 certifies nothing here


def test_gradient_ceiling_uses_the_exact_quotient() -> None:
    """Independent review (2026-12-02): at tangent 0.8 and gamma = 0.9265006904886053 the float
    quotient slope/gamma is exactly 9.0 while the exact one is 9 + 4.8e-16, so the ceiling is 10;
    a float ceiling would overstate the key by ~2.3e5 bits at n = 1e8."""
    from fractions import Fraction

    import protocols.qkd.chsh_keyrate as ck

    gamma = 0.9265006904886053
    _, slope = ck.min_tradeoff(0.8)
    exact = math.ceil(Fraction(slope) / Fraction(gamma))
    key = ck.chsh_key_length(rounds=10**8, gamma=gamma, threshold=0.85, tangent_point=0.8, test_round_cap=10**8,
                             leaked_bits=0, eps_ea=1e-10, eps_smooth=1e-10, eps_pa=1e-10)
    expected = ck.second_order_coefficient(exact, 1e-10, 1e-10) * math.sqrt(10**8)
    assert key.second_order_term == pytest.approx(expected, rel=1e-12)
