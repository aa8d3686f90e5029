r"""Key rate and finite-size key length of the CHSH DI-QKD protocol against quantum adversaries.

Derivation, with every step: docs/chsh_entropy_accumulation.md. Summary:

* **Single-round bound** (Pironio, Acin, Brunner, Gisin, Massar, Scarani, NJP 11, 045021 (2009),
  the CHSH bound of Acin et al., PRL 98, 230501 (2007)): for every quantum strategy winning the
  CHSH game with probability ``w`` (CHSH value ``S = 8w - 4``), Alice's output for ``x = 0`` obeys
  ``H(A|E) >= g(w) = 1 - h(1/2 + 1/2 sqrt(16 w (w - 1) + 3))`` (``= 1 - h(1/2 + 1/2 sqrt((S/2)^2
  - 1))``) for ``3/4 <= w <= w_Q = (2 + sqrt 2)/4``, and ``g(w) = 0`` below ``3/4``.
  The game is symmetric under ``x -> 1 - x, b -> b XOR y``, so the bound holds for ``x = 1`` too.
* **Asymptotic rate** (same paper): ``r = g(w) - h(Q)`` with Q the key-round error rate.
* **Min-tradeoff function**: the tangent of the convex function ``g`` at a point ``w_t``,
  ``f(w) = g(w_t) + g'(w_t)(w - w_t)``, in the test-round variable ``w = q(1)/gamma`` as in
  Arnon-Friedman, Dupuis, Fawzi, Renner, Vidick, Nat. Commun. 9, 459 (2018) (ADFRV) and
  Arnon-Friedman, Renner, Vidick, SIAM J. Comput. 48, 181 (2019) (ARV); ``||grad f||_inf =
  g'(w_t)/gamma``.
* **Entropy accumulation**: Dupuis, Fawzi, Renner, Commun. Math. Phys. 379, 867 (2020),
  Theorem 4.4 (the statement ARV and ADFRV apply): on the event Omega,
  ``H_min^{eps_s}(O|S E) > n t - v sqrt(n)``, ``v = 2 (log2(1 + 2 d_O) + ceil(||grad f||_inf))
  sqrt(1 - 2 log2(eps_s eps_EA))``, ``d_O = 6`` (O_i = Alice's bit and Bob's test bit or "none").
* **Key length** (chain rule for the public test outputs Z, at most 2 bits per test round and at
  most ``m`` test rounds on Omega, the error-correction message and the one-bit hash-check flag;
  quantum leftover hash lemma, Tomamichel, Schaffner, Smith, Renner, IEEE TIT 57, 5524 (2011)):

      l = floor(n t - v sqrt(n) - 2 m - leak_EC - 1 - 2 log2(1/eps_PA)),

  secret to ``eps_EA + 2 eps_s + eps_PA`` (trace distance), correct to ``eps_EC = 2^-tag``.

* **Improved second-order statement** (Dupuis-Fawzi, IEEE TIT 65, 7596 (2019), in the form of Liu et
  al., Nat. Phys. 17, 448 (2021), Thm 3, read with all constants in Nadlinger et al., Nature 607, 682
  (2022), Supplementary Information, Theorem 1, eqs. (101)-(104) and (61)-(70)): with the loss-based
  min-tradeoff function ``f_t`` (spread ``g'(t)(1 - omega_min)``, not ``g'(t)/gamma``), for alpha in (1, 2),

      H_min^{eps_s}(O|S E) > n h + n inf_w [Delta(w) - (alpha-1) V(w)] - n (alpha-1)^2 K_alpha
                             - (theta_{eps_s} + alpha log2(1/eps_EA))/(alpha - 1),

  ``h = g_t(w_eff)``, ``w_eff = w_thr + 1 - m/(gamma n)`` (lost test rounds on the accept event), the
  infimum bounded rigorously by convex bracketing: :func:`chsh_key_length_second_order`, same chain
  rule, hashing and secrecy ``eps_EA + 2 eps_s + eps_PA``.

The planner (:func:`plan_chsh`) certifies the larger of the two keys (both valid for the same run and
accept event); the key's ``theorem`` names the statement used. Nothing is rounded in the user's favour:
the tangent intercept is lowered by a relative margin, the finite-size terms are raised by one,
the length is floored.

Device assumption (EAT): the rounds are measured in sequence, the devices may keep memory and be
prepared by the adversary; Alice's and Bob's devices do not signal to each other within a round,
and the settings are fresh randomness they cannot predict. No memoryless (i.i.d.) assumption.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction
from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import brentq

from protocols.errors import BellboxInputError
from protocols.qkd.keyrate import binary_entropy

#: CHSH winning probability of the best local strategy (S = 2) and of quantum theory (S = 2 sqrt 2).
LOCAL_WINNING_PROBABILITY = 0.75
QUANTUM_WINNING_PROBABILITY = (2.0 + math.sqrt(2.0)) / 4.0
#: |O_i|: Alice's bit times Bob's test bit or "no test" (the d_O of DFR Theorem 4.4).
ROUND_OUTPUT_ALPHABET = 6
#: Bits of the test outputs (a, b) published per test round (chain rule, docs step 4).
TEST_OUTPUT_BITS = 2
#: The accept/reject flag of the hash check, published (docs step 4).
FLAG_BITS = 1
#: Relative margin by which the tangent intercept is lowered (floating-point rounding of g').
_TANGENT_MARGIN = 1e-9
#: Smallest test probability: should the drawn probability exceed gamma (by < 2^-53, as a 53-bit
#: Bernoulli sampler would), f moves by < slope 2^-53/gamma, inside the tangent margin for gamma >= 1e-6.
MIN_GAMMA = 1e-6
#: Relative margin by which the finite-size terms are raised.
_ROUNDING_MARGIN = 1e-9

ADVERSARY = "quantum"
THEOREM = ("entropy accumulation: Dupuis-Fawzi-Renner, Commun. Math. Phys. 379, 867 (2020), Thm 4.4, "
           "as applied to DI-QKD by Arnon-Friedman-Dupuis-Fawzi-Renner-Vidick, Nat. Commun. 9, 459 (2018) "
           "and Arnon-Friedman-Renner-Vidick, SIAM J. Comput. 48, 181 (2019); min-tradeoff function = tangent "
           "of the Pironio et al. (NJP 11, 045021 (2009)) bound; quantum leftover hash lemma "
           "(Tomamichel-Schaffner-Smith-Renner 2011); derivation docs/chsh_entropy_accumulation.md")
DEVICE_ASSUMPTION = ("sequential rounds; devices may have memory and be built by the adversary (no i.i.d. or "
                     "memoryless assumption); no signalling between Alice's and Bob's devices within a round; "
                     "settings and test bits are fresh randomness unknown to the devices beforehand")
ASYMPTOTIC_SOURCE = "Pironio et al., NJP 11, 045021 (2009): r = 1 - h(Q) - h(1/2 + 1/2 sqrt((S/2)^2 - 1))"


class CHSHRateInputError(BellboxInputError):
    """A CHSH key-rate parameter is outside its allowed range."""


# --------------------------------------------------------------------------------------------
# Single-round bound


def winning_probability(chsh_value: float) -> float:
    """``w = (S + 4)/8``: the CHSH game's winning probability for CHSH value S in [0, 4]."""
    _check_range("chsh_value (S)", chsh_value, 0.0, 4.0)
    return (chsh_value + 4.0) / 8.0


def chsh_value(winning: float | np.ndarray) -> float | np.ndarray:
    """``S = 8 w - 4``."""
    return 8.0 * np.asarray(winning) - 4.0 if isinstance(winning, np.ndarray) else 8.0 * winning - 4.0


def _clamped(winning: np.ndarray) -> np.ndarray:
    return np.clip(winning, LOCAL_WINNING_PROBABILITY, QUANTUM_WINNING_PROBABILITY)


def pironio_entropy(winning: float | np.ndarray) -> float | np.ndarray:
    """``g(w) = 1 - h(1/2 + 1/2 sqrt(16 w (w-1) + 3))`` on [3/4, w_Q]; 0 below 3/4; ``g(w_Q) = 1``
    above ``w_Q`` (clamped: beyond-quantum statistics are certified only as much as Tsirelson's)."""
    w = _clamped(np.asarray(winning, dtype=float))
    root = np.sqrt(np.clip(16.0 * w * (w - 1.0) + 3.0, 0.0, 1.0))
    value = 1.0 - binary_entropy(0.5 + 0.5 * root)
    return float(value) if np.ndim(value) == 0 else value


def pironio_slope(winning: float | np.ndarray) -> float | np.ndarray:
    """``g'(w) = (1/2) log2(p/(1-p)) (16 w - 8)/x`` with ``x = sqrt(16 w (w-1) + 3)``,
    ``p = (1+x)/2``; its limit ``4/ln 2`` at ``w = 3/4``; infinite at ``w_Q``."""
    w = np.asarray(winning, dtype=float)
    root = np.sqrt(np.clip(16.0 * w * (w - 1.0) + 3.0, 0.0, 1.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        # log2(p/(1-p))/x = (2/ln 2) artanh(x)/x, finite as x -> 0
        ratio = np.where(root > 1e-8, np.arctanh(np.minimum(root, 1.0)) / np.where(root > 0, root, 1.0), 1.0)
    slope = (16.0 * w - 8.0) * ratio / math.log(2.0)
    slope = np.where(w < LOCAL_WINNING_PROBABILITY, 0.0, slope)
    return float(slope) if np.ndim(slope) == 0 else slope


# --------------------------------------------------------------------------------------------
# Honest devices and the asymptotic rate


def honest_statistics(noise: float) -> tuple[float, float]:
    """``(w, Q)`` of the maximally entangled pair with white noise xi in the CHSH bases:
    ``w = 1/2 + (1 - xi) sqrt(2)/4`` (``S = 2 sqrt(2) (1 - xi)``), ``Q = xi/2``."""
    _check_range("noise (xi)", noise, 0.0, 1.0)
    return 0.5 + (1.0 - noise) * math.sqrt(2.0) / 4.0, noise / 2.0


@dataclass(frozen=True)
class CHSHRate:
    """Asymptotic rate ``max(0, g(w) - h(Q))`` (bits per round); optimal gamma -> 0."""

    rate: float
    signed_rate: float
    winning_probability: float
    chsh_value: float
    qber: float
    clamped: bool
    gamma: float = 0.0
    source: str = ASYMPTOTIC_SOURCE
    adversary_model: str = ADVERSARY

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def asymptotic_rate(*, winning: float, qber: float) -> CHSHRate:
    """The Pironio et al. (2009) rate for observed (or expected) ``w`` and QBER.

    Every test probability gamma > 0 reaches ``g(w) - (1-gamma) h(Q) - 2 gamma`` per round in
    this protocol (docs, step 6); the supremum over gamma, reached as gamma -> 0, is the Pironio
    rate, so the optimal asymptotic gamma is 0 (reported as ``gamma = 0``).
    """
    _check_range("winning probability", winning, 0.0, 1.0)
    _check_range("qber", qber, 0.0, 0.5)
    signed = float(pironio_entropy(winning) - binary_entropy(qber))
    return CHSHRate(rate=max(0.0, signed), signed_rate=signed, winning_probability=float(winning),
                    chsh_value=float(chsh_value(winning)), qber=float(qber),
                    clamped=winning > QUANTUM_WINNING_PROBABILITY)


def honest_rate(noise: float) -> CHSHRate:
    """:func:`asymptotic_rate` of :func:`honest_statistics` (white noise xi)."""
    winning, qber = honest_statistics(noise)
    return asymptotic_rate(winning=winning, qber=qber)


def noise_threshold() -> float:
    """The white noise xi above which the asymptotic rate is zero, rounded down to 1e-6
    (about 0.1423, QBER xi/2 about 7.1 %, S about 2.43)."""
    root = brentq(lambda xi: honest_rate(xi).signed_rate, 1e-6, 0.29, xtol=1e-12)
    return math.floor(root * 1e6) / 1e6


# --------------------------------------------------------------------------------------------
# Finite-size key length


@dataclass(frozen=True, kw_only=True)
class _KeyLengthTerms:
    """The terms both CHSH key lengths share (docs steps 3-5): the published test outputs
    (``2 m`` bits), error-correction leak, hash-check flag, privacy amplification, the epsilon
    split, and the statement the length rests on."""

    test_round_cap: int
    test_output_term: int
    leakage_term: int
    flag_term: int
    privacy_amplification_term: float
    eps_ea: float
    eps_smooth: float
    eps_pa: float
    eps_secrecy: float
    clamped: bool
    note: str
    adversary_model: str = ADVERSARY
    theorem: str = THEOREM
    device_assumption: str = DEVICE_ASSUMPTION

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True, kw_only=True)
class CHSHKeyLength(_KeyLengthTerms):
    """``l = max(0, floor(entropy_term - second_order_term - test_output_term - leakage_term
    - flag_term - privacy_amplification_term))`` (module docstring; docs step 5)."""

    bits: int
    unrounded: float
    rounds: int
    gamma: float
    threshold: float
    threshold_chsh: float
    tangent_point: float
    slope: float
    entropy_rate: float
    entropy_term: float
    gradient_norm: float
    second_order_term: float


def min_tradeoff(tangent_point: float) -> tuple[float, float]:
    """``(intercept, slope)`` of an affine ``f(w) = intercept + slope w`` with ``f <= g`` on
    [0, w_Q]: the tangent of the convex ``g`` at ``w_t`` (in [3/4, w_Q)), its intercept lowered by
    a relative margin for the rounding of ``g'``."""
    _check_range("tangent_point", tangent_point, LOCAL_WINNING_PROBABILITY, QUANTUM_WINNING_PROBABILITY,
                 upper_open=True)
    slope = float(pironio_slope(tangent_point))
    intercept = float(pironio_entropy(tangent_point)) - slope * tangent_point
    return intercept - _TANGENT_MARGIN * (1.0 + abs(intercept) + slope), slope


def second_order_coefficient(gradient_norm: float, eps_smooth: float, eps_ea: float) -> float:
    """``v = 2 (log2(1 + 2 d_O) + ceil(||grad f||_inf)) sqrt(1 - 2 log2(eps_s eps_EA))`` (DFR Thm 4.4)."""
    return 2.0 * (math.log2(1 + 2 * ROUND_OUTPUT_ALPHABET) + math.ceil(gradient_norm)) * math.sqrt(
        1.0 - 2.0 * math.log2(eps_smooth * eps_ea))


def chsh_key_length(
    *,
    rounds: int,
    gamma: float,
    threshold: float,
    tangent_point: float,
    test_round_cap: int,
    leaked_bits: int,
    eps_ea: float,
    eps_smooth: float,
    eps_pa: float,
) -> CHSHKeyLength:
    """Certified key length for a run that accepts when ``wins >= gamma n threshold`` and at most
    ``test_round_cap`` test rounds; ``leaked_bits`` counts the error-correction syndrome and tag.

    A threshold above ``w_Q`` (statistics beyond quantum, e.g. a PR box) is clamped to ``w_Q``:
    the min-tradeoff function is defined on quantum statistics only; ``clamped`` says so.
    """
    _check_count("rounds", rounds, 1)
    _check_range("gamma", gamma, MIN_GAMMA, 1.0, upper_open=True)
    _check_range("threshold", threshold, 0.0, 1.0)
    _check_count("test_round_cap", test_round_cap, 0)
    _check_count("leaked_bits", leaked_bits, 0)
    for name, value in (("eps_ea", eps_ea), ("eps_smooth", eps_smooth), ("eps_pa", eps_pa)):
        _check_range(name, value, 0.0, 1.0, lower_open=True, upper_open=True)
    clamped = threshold > QUANTUM_WINNING_PROBABILITY
    used = min(threshold, QUANTUM_WINNING_PROBABILITY)
    intercept, slope = min_tradeoff(tangent_point)
    entropy_rate = intercept + slope * used
    # ceil of the exact quotient (Fraction): a float quotient that rounds down onto an integer
    # would drop the ceiling by one (independent review, 2026-12-02)
    gradient = slope / gamma
    second = second_order_coefficient(math.ceil(Fraction(slope) / Fraction(gamma)), eps_smooth, eps_ea) * math.sqrt(rounds)
    pa = 2.0 * math.log2(1.0 / eps_pa)
    finite = (second + pa) * (1.0 + _ROUNDING_MARGIN) + 1.0
    unrounded = rounds * entropy_rate - finite - TEST_OUTPUT_BITS * test_round_cap - leaked_bits - FLAG_BITS
    note = (f"threshold w = {threshold:.6f} (S = {chsh_value(threshold):.4f}) is beyond the quantum maximum "
            f"w_Q = {QUANTUM_WINNING_PROBABILITY:.6f}; the min-tradeoff function is defined on quantum statistics "
            "only and was evaluated at w_Q (clamped)" if clamped else "")
    return CHSHKeyLength(
        bits=max(0, math.floor(unrounded)), unrounded=unrounded, rounds=int(rounds), gamma=float(gamma),
        threshold=float(threshold), threshold_chsh=float(chsh_value(threshold)), tangent_point=float(tangent_point),
        slope=slope, entropy_rate=entropy_rate, entropy_term=rounds * entropy_rate, gradient_norm=gradient,
        second_order_term=second, test_round_cap=int(test_round_cap),
        test_output_term=TEST_OUTPUT_BITS * int(test_round_cap), leakage_term=int(leaked_bits), flag_term=FLAG_BITS,
        privacy_amplification_term=pa, eps_ea=float(eps_ea), eps_smooth=float(eps_smooth), eps_pa=float(eps_pa),
        eps_secrecy=float(eps_ea + 2.0 * eps_smooth + eps_pa), clamped=clamped, note=note,
    )


# --------------------------------------------------------------------------------------------
# Finite-size key length: the improved second-order statement (docs step 3b)


#: Smallest CHSH winning probability of quantum theory, ``(1 - 1/sqrt 2)/2`` (the omega_min of the statement).
MIN_QUANTUM_WINNING_PROBABILITY = (2.0 - math.sqrt(2.0)) / 4.0
#: |A_i B'_i| = 4: Alice's bit and Bob's bit B'_i (= B_i on test rounds, 0 on key rounds; given T_i this
#: relabels O_i one-to-one); the d_A of the statement (its ``log 33 = log(2 d_A^2 + 1)`` and ``2 = log d_A``).
SECOND_ORDER_ALPHABET = 4
#: Points of the uniform grid on [omega_min, w_Q] on which the infimum over omega is bounded (convex bracketing).
SLACK_POINTS = 2001
SECOND_ORDER_THEOREM = (
    "entropy accumulation with improved second-order term: Dupuis-Fawzi, IEEE Trans. Inf. Theory 65, 7596 (2019), "
    "in the form of Liu et al., Nat. Phys. 17, 448 (2021), Thm 3, as stated for this CHSH channel (test probability "
    "gamma, key rounds x = 0, y = 2) in Nadlinger et al., Nature 607, 682 (2022), Supplementary Information, "
    "Theorem 1 (eqs. (101)-(104)) with eqs. (61)-(70); min-tradeoff function = tangent of the Pironio et al. "
    "(NJP 11, 045021 (2009)) bound in the test-loss variable; EAT channels and Markov condition of the entropy "
    "accumulation framework of Dupuis-Fawzi-Renner, Commun. Math. Phys. 379, 867 (2020); chain rule for the published "
    "test outputs and quantum leftover hash lemma (Tomamichel-Schaffner-Smith-Renner 2011); derivation "
    "docs/chsh_entropy_accumulation.md")


@dataclass(frozen=True, kw_only=True)
class CHSHSecondOrderKeyLength(_KeyLengthTerms):
    """``l = max(0, floor(entropy_term + tangent_slack_term - k_alpha_term - smoothing_term - test_output_term
    - leakage_term - flag_term - privacy_amplification_term))`` (docs step 3b)."""

    bits: int
    unrounded: float
    rounds: int
    gamma: float
    threshold: float
    threshold_chsh: float
    effective_threshold: float
    tangent_point: float
    slope: float
    alpha: float
    entropy_rate: float
    entropy_term: float
    tangent_slack: float
    tangent_slack_term: float
    tradeoff_spread: float
    k_alpha: float
    k_alpha_term: float
    smoothing_term: float
    theorem: str = SECOND_ORDER_THEOREM


def loss_tradeoff_variance(slope, gamma, winning):
    """``Var_{q(w)}(f_t) = (g'(t)/gamma)^2 p (1 - p)``, ``p = gamma (1 - w)``: the variance of the
    min-tradeoff function f_t (value ``g_t(1) - g'(t)/gamma`` on a lost test round, ``g_t(1)`` otherwise;
    Nadlinger et al. SI eqs. (63)-(65)) under ``q(w) = (gamma (1-w), gamma w, 1 - gamma)`` (eq. (67))."""
    lost = gamma * (1.0 - np.asarray(winning, dtype=float))
    return (slope / gamma) ** 2 * lost * (1.0 - lost)


def second_order_volume(variance):
    """``V(f_t, p) = (ln 2 / 2) (log2(2 d_A^2 + 1) + sqrt(2 + Var_p(f_t)))^2`` (Nadlinger et al. SI eq. (69),
    ``log 33`` for ``d_A = 4``)."""
    return 0.5 * math.log(2.0) * (math.log2(2 * SECOND_ORDER_ALPHABET**2 + 1) + np.sqrt(2.0 + variance)) ** 2


#: ``log2 d_A`` in :func:`second_order_k`, taken as ``2 log2 d_A``: the independent review
#: (2026-12-02) could not confirm from the source whether the exponent holds ``log d_A`` or
#: ``2 log d_A``; the larger one only lowers the key (about 28 bits at the Oxford point).
HARDENED_LOG_ALPHABET = 2.0 * math.log2(SECOND_ORDER_ALPHABET)


def smoothing_term(alpha, eps_smooth, eps_ea):
    """``(theta_{eps_s} + alpha log2(1/eps_EA)) / (alpha - 1)`` (Nadlinger et al. SI Thm 1) plus the
    constant ``theta_{eps_s} + log2(1/eps_EA)`` by which the original Dupuis-Fawzi parametrisation
    (``alpha -> 1/(2 - alpha)``) exceeds it: the key then holds under both readings of the
    statement (independent review, 2026-12-02; about 106 bits at the Oxford point)."""
    theta, tail = smoothing_theta(eps_smooth), np.log2(1.0 / eps_ea)
    return (theta + alpha * tail) / (alpha - 1.0) + theta + tail


def second_order_k(alpha, spread):
    """``K_alpha = 2^{(alpha-1)(log2 d_A + spread)} ln^3(2^{log2 d_A + spread} + e^2) / (6 (2 - alpha)^3 ln 2)``
    with ``spread = Max(f_t) - Min(f_t) = g_t(1) - g_t(omega_min)`` (Nadlinger et al. SI eqs. (70), (102)-(104))."""
    exponent = HARDENED_LOG_ALPHABET + spread
    return (np.exp2((alpha - 1.0) * exponent) * np.log(np.exp2(exponent) + math.e**2) ** 3
            / (6.0 * (2.0 - alpha) ** 3 * math.log(2.0)))


def smoothing_theta(eps):
    """``theta_eps = log2(1 / (1 - sqrt(1 - eps^2)))`` (Nadlinger et al. SI eq. (66)), evaluated as
    ``log2((1 + sqrt(1 - eps^2)) / eps^2)`` (no cancellation)."""
    eps = np.asarray(eps, dtype=float)
    return np.log2((1.0 + np.sqrt(1.0 - eps**2)) / eps**2)


def convex_minimum_lower_bound(values: np.ndarray, spacing: float) -> np.ndarray:
    """A rigorous lower bound on ``min phi`` over ``[w_0, w_K]`` from ``values[..., k] = phi(w_0 + k h)`` of a
    **convex** phi (last axis; K >= 3).

    On ``[w_k, w_k+1]`` convexity gives ``phi >= phi_k + s_{k-1}(w - w_k)`` (chord slope of the interval on the
    left) and ``phi >= phi_{k+1} + s_{k+1}(w - w_{k+1})`` (chord slope on the right); the maximum of the two lines
    is piecewise linear, so its minimum over the interval is at an end or at the crossing. The result is lowered
    by a relative 1e-9 for floating-point rounding.
    """
    phi = np.asarray(values, dtype=float)
    slopes = np.diff(phi, axis=-1) / spacing
    start_value, end_value = phi[..., :-1], phi[..., 1:]
    none = np.full(phi.shape[:-1] + (1,), np.nan)
    left_slope = np.concatenate([none, slopes[..., :-1]], axis=-1)    # s_{k-1}; no line on the first interval
    right_slope = np.concatenate([slopes[..., 1:], none], axis=-1)    # s_{k+1}; no line on the last interval
    # x = w - w_k in [0, h]: left(x) = phi_k + s_{k-1} x, right(x) = phi_{k+1} + s_{k+1} (x - h); absent = -inf
    left_start = np.where(np.isnan(left_slope), -np.inf, start_value)
    left_end = np.where(np.isnan(left_slope), -np.inf, start_value + left_slope * spacing)
    right_start = np.where(np.isnan(right_slope), -np.inf, end_value - right_slope * spacing)
    right_end = np.where(np.isnan(right_slope), -np.inf, end_value)
    ends = np.minimum(np.maximum(left_start, right_start), np.maximum(left_end, right_end))
    approach = np.nan_to_num(right_slope - left_slope, nan=0.0)  # > 0: the lines cross at most once
    with np.errstate(divide="ignore", invalid="ignore"):
        crossing = np.where(approach > 0.0, (right_start - left_start) / -approach, -1.0)
    inside = (crossing > 0.0) & (crossing < spacing)
    at_crossing = np.where(inside, left_start + np.nan_to_num(left_slope) * np.where(inside, crossing, 0.0), np.inf)
    bound = np.min(np.minimum(ends, at_crossing), axis=-1)
    return bound - 1e-9 * (1.0 + np.max(np.abs(phi), axis=-1))


def _slack_values(intercept, slope, gamma, alpha, winning):
    """``Delta(f_t, w) - (alpha - 1) V(f_t, q(w))`` (Nadlinger et al. SI eqs. (68), (69)), broadcast; the
    variance is raised by a relative 1e-9 (a drawn test probability within 2^-53 of gamma)."""
    tangent = intercept + slope * winning
    variance = loss_tradeoff_variance(slope, gamma, winning) * (1.0 + 1e-9)
    return pironio_entropy(winning) - tangent - (alpha - 1.0) * second_order_volume(variance)


def tangent_slack_lower_bound(*, tangent_point: float, gamma: float, alpha: float, points: int = SLACK_POINTS) -> float:
    """A rigorous lower bound on ``inf over w in [omega_min, w_Q] of Delta(f_t, w) - (alpha-1) V(f_t, q(w))``.

    The function is convex in w: ``Delta = g - f_t`` is convex (g convex, f_t affine) and ``V`` is concave in w
    (``Var`` is a concave quadratic in w and ``x -> (a + sqrt(2 + x))^2`` is concave increasing), so
    :func:`convex_minimum_lower_bound` applies."""
    intercept, slope = min_tradeoff(tangent_point)
    grid = np.linspace(MIN_QUANTUM_WINNING_PROBABILITY, QUANTUM_WINNING_PROBABILITY, points)
    values = _slack_values(intercept, slope, gamma, alpha, grid)
    return float(convex_minimum_lower_bound(values, grid[1] - grid[0]))


def chsh_key_length_second_order(
    *,
    rounds: int,
    gamma: float,
    threshold: float,
    tangent_point: float,
    alpha: float,
    test_round_cap: int,
    leaked_bits: int,
    eps_ea: float,
    eps_smooth: float,
    eps_pa: float,
) -> CHSHSecondOrderKeyLength:
    """Certified key length of the same run (accept iff ``wins >= gamma n threshold`` and at most
    ``test_round_cap`` test rounds) from the improved second-order statement (docs step 3b).

    On the accept event the number of lost test rounds is at most ``m - gamma n w_thr``, so the loss-based
    min-tradeoff function is at least ``h = g_t(w_eff)``, ``w_eff = w_thr + 1 - m/(gamma n)``
    (``effective_threshold``). Then, for any alpha in (1, 2) (Nadlinger et al. SI Theorem 1, eq. (101), with
    ``P(Omega) >= eps_EA``):

        H_min^{eps_s}(O | S E) > n h + n inf_w [Delta - (alpha-1) V] - n (alpha-1)^2 K_alpha
                                 - (theta_{eps_s} + alpha log2(1/eps_EA)) / (alpha - 1),

    and the key is ``floor(that - 2 m - leak_EC - 1 - 2 log2(1/eps_PA))``, secret to ``eps_EA + 2 eps_s + eps_PA``.
    """
    _check_count("rounds", rounds, 1)
    _check_range("gamma", gamma, MIN_GAMMA, 1.0, upper_open=True)
    _check_range("threshold", threshold, 0.0, 1.0)
    _check_range("alpha", alpha, 1.0, 2.0, lower_open=True, upper_open=True)
    _check_count("test_round_cap", test_round_cap, 0)
    _check_count("leaked_bits", leaked_bits, 0)
    for name, value in (("eps_ea", eps_ea), ("eps_smooth", eps_smooth), ("eps_pa", eps_pa)):
        _check_range(name, value, 0.0, 1.0, lower_open=True, upper_open=True)
    clamped = threshold > QUANTUM_WINNING_PROBABILITY
    used = min(threshold, QUANTUM_WINNING_PROBABILITY)
    effective = min(used + 1.0 - test_round_cap / (gamma * rounds), QUANTUM_WINNING_PROBABILITY)
    intercept, slope = min_tradeoff(tangent_point)
    entropy_rate = intercept + slope * effective
    slack = tangent_slack_lower_bound(tangent_point=tangent_point, gamma=gamma, alpha=alpha)
    slack_term = rounds * slack - abs(rounds * slack) * _ROUNDING_MARGIN
    spread = slope * (1.0 - MIN_QUANTUM_WINNING_PROBABILITY) * (1.0 + _TANGENT_MARGIN)
    k_alpha = float(second_order_k(alpha, spread))
    k_term = rounds * (alpha - 1.0) ** 2 * k_alpha
    smoothing = float(smoothing_term(alpha, eps_smooth, eps_ea))
    pa = 2.0 * math.log2(1.0 / eps_pa)
    finite = (k_term + smoothing + pa) * (1.0 + _ROUNDING_MARGIN) + 1.0
    unrounded = (rounds * entropy_rate + slack_term - finite - TEST_OUTPUT_BITS * test_round_cap - leaked_bits
                 - FLAG_BITS)
    note = (f"threshold w = {threshold:.6f} (S = {chsh_value(threshold):.4f}) is beyond the quantum maximum "
            f"w_Q = {QUANTUM_WINNING_PROBABILITY:.6f}; the min-tradeoff function is defined on quantum statistics "
            "only and was evaluated at w_Q (clamped)" if clamped else "")
    return CHSHSecondOrderKeyLength(
        bits=max(0, math.floor(unrounded)), unrounded=unrounded, rounds=int(rounds), gamma=float(gamma),
        threshold=float(threshold), threshold_chsh=float(chsh_value(threshold)), effective_threshold=float(effective),
        tangent_point=float(tangent_point), slope=slope, alpha=float(alpha), entropy_rate=entropy_rate,
        entropy_term=rounds * entropy_rate, tangent_slack=slack, tangent_slack_term=slack_term,
        tradeoff_spread=spread, k_alpha=k_alpha, k_alpha_term=k_term, smoothing_term=smoothing,
        test_round_cap=int(test_round_cap), test_output_term=TEST_OUTPUT_BITS * int(test_round_cap),
        leakage_term=int(leaked_bits), flag_term=FLAG_BITS, privacy_amplification_term=pa, eps_ea=float(eps_ea),
        eps_smooth=float(eps_smooth), eps_pa=float(eps_pa), eps_secrecy=float(eps_ea + 2.0 * eps_smooth + eps_pa),
        clamped=clamped, note=note,
    )


# --------------------------------------------------------------------------------------------
# Planner


#: Fractions (EA, smoothing, PA) of the secrecy budget eps = eps_EA + 2 eps_s + eps_PA tried.
EPS_SPLITS: tuple[tuple[float, float, float], ...] = (
    (1 / 3, 1 / 3, 1 / 3), (0.45, 0.45, 0.1), (0.4, 0.5, 0.1), (0.5, 0.4, 0.1), (0.25, 0.25, 0.5),
    (0.45, 0.5, 0.05), (0.3, 0.6, 0.1), (0.6, 0.3, 0.1),
)
_GAMMAS = np.geomspace(1e-4, 0.9, 160)
_TANGENTS = np.linspace(0.7501, QUANTUM_WINNING_PROBABILITY - 1e-5, 200)


@dataclass(frozen=True)
class CHSHPlan:
    """Public protocol choices fixed before a run, and the key length they certify.

    ``threshold`` and ``test_round_cap`` are set so that the honest device (``expected_winning``)
    passes both tests except with probability ``eps_completeness`` (multiplicative Chernoff
    bounds; efficiency only, not security). ``key`` is the certified length of an accepted run
    with leak ``leaked_bits``.
    """

    rounds: int
    gamma: float
    tangent_point: float
    threshold: float
    test_round_cap: int
    expected_winning: float
    leaked_bits: int
    eps_ea: float
    eps_smooth: float
    eps_pa: float
    eps_completeness: float
    key: CHSHKeyLength | CHSHSecondOrderKeyLength
    #: Renyi parameter of the second-order statement; None when the plan uses DFR Thm 4.4.
    alpha: float | None = None

    @property
    def bits(self) -> int:
        return self.key.bits

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def completeness_margins(rounds: int, gamma: np.ndarray, winning: float, eps_completeness: float
                         ) -> tuple[np.ndarray, np.ndarray]:
    """``(threshold, cap)``: ``P[wins < gamma n threshold] <= e/2`` and ``P[tests > cap] <= e/2`` for
    wins ~ Bin(n, gamma w), tests ~ Bin(n, gamma) (Chernoff: ``exp(-d^2 mu/2)`` below,
    ``exp(-d^2 mu/(2+d))`` above the mean ``mu``)."""
    log_term = math.log(2.0 / eps_completeness)
    mean_wins = rounds * gamma * winning
    threshold = winning * (1.0 - np.sqrt(2.0 * log_term / mean_wins))
    mean_tests = rounds * gamma
    delta = (log_term + np.sqrt(log_term**2 + 8.0 * mean_tests * log_term)) / (2.0 * mean_tests)
    cap = np.minimum(np.ceil((1.0 + delta) * mean_tests), rounds)
    return threshold, cap


def _grid_lengths(rounds: int, gamma: np.ndarray, threshold: np.ndarray, cap: np.ndarray, leaked_bits: int,
                  eps: float) -> np.ndarray:
    """Unrounded key length on the grid (split, gamma, tangent); same formula as :func:`chsh_key_length`."""
    split = np.asarray(EPS_SPLITS)[:, None, None] * eps
    eps_ea, eps_s, eps_pa = split[..., 0], split[..., 1] / 2.0, split[..., 2]
    tangent = _TANGENTS[None, None, :]
    slope = pironio_slope(tangent)
    intercept = pironio_entropy(tangent) - slope * tangent
    used = np.minimum(threshold, QUANTUM_WINNING_PROBABILITY)[None, :, None]
    rate = intercept - _TANGENT_MARGIN * (1 + np.abs(intercept) + slope) + slope * used
    v = 2.0 * (math.log2(1 + 2 * ROUND_OUTPUT_ALPHABET) + np.ceil(np.nextafter(slope / gamma[None, :, None], np.inf))) * np.sqrt(
        1.0 - 2.0 * np.log2(eps_s * eps_ea))
    finite = (v * math.sqrt(rounds) + 2.0 * np.log2(1.0 / eps_pa)) * (1 + _ROUNDING_MARGIN) + 1.0
    return rounds * rate - finite - TEST_OUTPUT_BITS * cap[None, :, None] - leaked_bits - FLAG_BITS


#: Planner grid of the second-order statement: test probabilities, tangent points, alpha - 1, and the
#: omega grid on which the slack infimum is bounded while planning (the final key uses SLACK_POINTS).
_SECOND_GAMMAS = np.geomspace(1e-3, 0.5, 64)
_SECOND_TANGENTS = np.linspace(0.7501, QUANTUM_WINNING_PROBABILITY - 1e-5, 64)
_SECOND_ALPHAS = 1.0 + np.geomspace(1e-5, 0.3, 40)
_PLANNING_SLACK_POINTS = 129


@functools.lru_cache(maxsize=64)
def _slack_table(gammas: tuple[float, ...]) -> np.ndarray:
    """Lower bounds on the slack infimum on the grid (gamma, tangent, alpha): independent of n and eps."""
    tangent = _SECOND_TANGENTS[:, None, None]
    slope = pironio_slope(tangent)
    intercept = pironio_entropy(tangent) - slope * tangent
    intercept = intercept - _TANGENT_MARGIN * (1.0 + np.abs(intercept) + slope)
    alpha = _SECOND_ALPHAS[None, :, None]
    grid = np.linspace(MIN_QUANTUM_WINNING_PROBABILITY, QUANTUM_WINNING_PROBABILITY, _PLANNING_SLACK_POINTS)
    return np.stack([convex_minimum_lower_bound(_slack_values(intercept, slope, g, alpha, grid), grid[1] - grid[0])
                     for g in gammas])


def _second_order_grid_lengths(rounds: int, gammas: np.ndarray, threshold: np.ndarray, cap: np.ndarray,
                               leaked_bits: int, eps: float) -> np.ndarray:
    """Unrounded second-order key length on the grid (split, gamma, tangent, alpha); the formula of
    :func:`chsh_key_length_second_order` with the slack bounded on a coarser omega grid."""
    split = np.asarray(EPS_SPLITS)[:, None, None, None] * eps
    eps_ea, eps_s, eps_pa = split[..., 0], split[..., 1] / 2.0, split[..., 2]
    tangent = _SECOND_TANGENTS[None, None, :, None]
    alpha = _SECOND_ALPHAS[None, None, None, :]
    slope = pironio_slope(tangent)
    intercept = pironio_entropy(tangent) - slope * tangent
    intercept = intercept - _TANGENT_MARGIN * (1.0 + np.abs(intercept) + slope)
    g = gammas[None, :, None, None]
    used = np.minimum(threshold, QUANTUM_WINNING_PROBABILITY)[None, :, None, None]
    effective = np.minimum(used + 1.0 - cap[None, :, None, None] / (g * rounds), QUANTUM_WINNING_PROBABILITY)
    slack = _slack_table(tuple(float(x) for x in gammas))[None]
    k_alpha = second_order_k(alpha, slope * (1.0 - MIN_QUANTUM_WINNING_PROBABILITY))
    smoothing = smoothing_term(alpha, eps_s, eps_ea)
    finite = rounds * (alpha - 1.0) ** 2 * k_alpha + smoothing + 2.0 * np.log2(1.0 / eps_pa)
    return (rounds * (intercept + slope * effective + slack) - finite - TEST_OUTPUT_BITS * cap[None, :, None, None]
            - leaked_bits - FLAG_BITS)


def plan_chsh(*, rounds: int, winning: float, leaked_bits: int, eps: float, eps_completeness: float = 1e-3,
              gamma: float | None = None, margins: bool = True) -> CHSHPlan:
    """Choose gamma (unless given), the tangent point, the split of ``eps = eps_EA + 2 eps_s + eps_PA`` and,
    for the second-order statement, alpha, maximising the certified key over both statements (DFR Thm 4.4,
    :func:`chsh_key_length`; the improved second-order statement, :func:`chsh_key_length_second_order`).
    Both hold for every value of these parameters and for the same accept event, so the larger of the two
    certified lengths is certified, and the grid search never overstates the key. ``plan.alpha`` is None when
    the plan uses DFR Thm 4.4; ``plan.key.theorem`` names the statement.

    ``margins=False`` uses the expected values themselves (threshold = ``winning``, cap =
    ``ceil(gamma n)``): the key an experiment with exactly these statistics would certify had it
    fixed them as its thresholds.
    """
    _check_count("rounds", rounds, 1)
    _check_range("winning probability", winning, 0.0, 1.0)
    _check_count("leaked_bits", leaked_bits, 0)
    _check_range("eps", eps, 0.0, 1.0, lower_open=True, upper_open=True)
    _check_range("eps_completeness", eps_completeness, 0.0, 1.0, lower_open=True, upper_open=True)
    if gamma is not None:
        _check_range("gamma", gamma, MIN_GAMMA, 1.0, upper_open=True)

    def margins_at(gammas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if margins:
            return completeness_margins(rounds, gammas, winning, eps_completeness)
        return np.full_like(gammas, winning), np.minimum(np.ceil(gammas * rounds), rounds)

    def split_at(index: int) -> tuple[float, float, float]:
        fractions = EPS_SPLITS[index]
        return fractions[0] * eps, fractions[1] * eps / 2.0, fractions[2] * eps

    gammas = _GAMMAS if gamma is None else np.array([float(gamma)])
    threshold, cap = margins_at(gammas)
    s, g, t = np.unravel_index(int(np.argmax(_grid_lengths(rounds, gammas, threshold, cap, leaked_bits, eps))),
                               (len(EPS_SPLITS), len(gammas), len(_TANGENTS)))
    eps_ea, eps_s, eps_pa = split_at(s)
    key = chsh_key_length(rounds=rounds, gamma=float(gammas[g]), threshold=float(max(threshold[g], 0.0)),
                          tangent_point=float(_TANGENTS[t]), test_round_cap=int(cap[g]), leaked_bits=leaked_bits,
                          eps_ea=eps_ea, eps_smooth=eps_s, eps_pa=eps_pa)
    chosen = dict(gamma=float(gammas[g]), tangent_point=float(_TANGENTS[t]), eps_ea=eps_ea, eps_smooth=eps_s,
                  eps_pa=eps_pa, alpha=None, key=key)

    gammas = _SECOND_GAMMAS if gamma is None else np.array([float(gamma)])
    threshold, cap = margins_at(gammas)
    s, g, t, a = np.unravel_index(
        int(np.argmax(_second_order_grid_lengths(rounds, gammas, threshold, cap, leaked_bits, eps))),
        (len(EPS_SPLITS), len(gammas), len(_SECOND_TANGENTS), len(_SECOND_ALPHAS)))
    eps_ea, eps_s, eps_pa = split_at(s)
    second = chsh_key_length_second_order(
        rounds=rounds, gamma=float(gammas[g]), threshold=float(max(threshold[g], 0.0)),
        tangent_point=float(_SECOND_TANGENTS[t]), alpha=float(_SECOND_ALPHAS[a]), test_round_cap=int(cap[g]),
        leaked_bits=leaked_bits, eps_ea=eps_ea, eps_smooth=eps_s, eps_pa=eps_pa)
    if second.bits > key.bits:
        chosen = dict(gamma=float(gammas[g]), tangent_point=float(_SECOND_TANGENTS[t]), eps_ea=eps_ea,
                      eps_smooth=eps_s, eps_pa=eps_pa, alpha=float(_SECOND_ALPHAS[a]), key=second)
    return CHSHPlan(rounds=int(rounds), threshold=chosen["key"].threshold,
                    test_round_cap=chosen["key"].test_round_cap, expected_winning=float(winning),
                    leaked_bits=int(leaked_bits), eps_completeness=float(eps_completeness), **chosen)


def plan_key_length(plan: CHSHPlan, leaked_bits: int) -> CHSHKeyLength | CHSHSecondOrderKeyLength:
    """The key length of ``plan`` for an accepted run that published ``leaked_bits`` syndrome + tag bits,
    by the statement the plan chose (``plan.alpha`` None: DFR Thm 4.4; else the second-order statement)."""
    common = dict(rounds=plan.rounds, gamma=plan.gamma, threshold=plan.threshold, tangent_point=plan.tangent_point,
                  test_round_cap=plan.test_round_cap, leaked_bits=leaked_bits, eps_ea=plan.eps_ea,
                  eps_smooth=plan.eps_smooth, eps_pa=plan.eps_pa)
    if plan.alpha is None:
        return chsh_key_length(**common)
    return chsh_key_length_second_order(alpha=plan.alpha, **common)


def shannon_leak(rounds: int, gamma: float, qber: float, tag_bits: int) -> int:
    """``ceil((1 - gamma) n h(Q)) + tag``: the Shannon-limit syndrome of the padded raw key
    (an expectation for planning; a run counts the bits it publishes)."""
    return math.ceil((1.0 - gamma) * rounds * binary_entropy(qber)) + int(tag_bits)


def key_from_statistics(*, rounds: int, winning: float, qber: float, eps: float, tag_bits: int,
                        gamma: float | None = None) -> CHSHPlan:
    """Key length for observed statistics (``bellbox rate --protocol chsh --chsh S --qber Q``):
    thresholds at the observed values, planned counts, Shannon-limit leak (an expectation).

    The leak ``(1 - gamma) n h(Q)`` depends on gamma: a first plan uses the largest leak
    (gamma = 0), the second keeps its gamma and uses the leak at that gamma.
    """
    _check_range("qber", qber, 0.0, 0.5)
    first = plan_chsh(rounds=rounds, winning=winning, leaked_bits=shannon_leak(rounds, 0.0, qber, tag_bits),
                      eps=eps, gamma=gamma, margins=False)
    return plan_chsh(rounds=rounds, winning=winning, leaked_bits=shannon_leak(rounds, first.gamma, qber, tag_bits),
                     eps=eps, gamma=first.gamma, margins=False)


def minimum_rounds(key_length_at, max_rounds: int = 10**12) -> int | None:
    """Smallest N (to 1 %, rounded up) with ``key_length_at(N) > 0``, by doubling then bisection
    on a log grid; None when even ``max_rounds`` gives no key."""
    if key_length_at(max_rounds) <= 0:
        return None
    low, high = 1, 1000
    while key_length_at(high) <= 0:
        low, high = high, high * 2
    while high > low * 1.01 + 1:
        middle = int(math.sqrt(low * high))
        if key_length_at(middle) > 0:
            high = middle
        else:
            low = middle
    return int(high)


# --------------------------------------------------------------------------------------------
# Input checks


def _check_range(name: str, value, low: float, high: float, lower_open: bool = False,
                 upper_open: bool = False) -> None:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) \
        and math.isfinite(float(value))
    if ok:
        ok = (low < value if lower_open else low <= value) and (value < high if upper_open else value <= high)
    if not ok:
        interval = f"{'(' if lower_open else '['}{low:g}, {high:g}{')' if upper_open else ']'}"
        raise CHSHRateInputError(f"{name} must be in {interval}, got {value!r}")


def _check_count(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise CHSHRateInputError(f"{name} must be an integer >= {minimum}, got {value!r}")
