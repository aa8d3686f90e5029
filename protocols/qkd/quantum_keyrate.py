"""Key length of the chained DI-QKD protocol (paper 000 Sec. III A) against quantum adversaries.

Derivation: docs/quantum_chained_key.md (issue 11, item 2). Paper 000 Lemma 10, eq. (A2),
applied to the box conditioned on the public test data, ``H_min = -log2 P_guess``
(Koenig, Renner, Schaffner, IEEE TIT 55, 4337 (2009)), the chain rule for the classical leak
``N_c``, the quantum leftover hash lemma (Renner's thesis Cor. 5.6.1; Tomamichel, Schaffner,
Smith, Renner, IEEE TIT 57, 5524 (2011)), Cauchy-Schwarz over the public data and Lemma 3 with
eqs. (62)-(64) give, in the paper's L1 convention (eq. 59),

    N_s^Q(w) = max{0, floor(F(w) - N_c - log2(N_e + 1) - log2(N_u + 1) - 2 log2(1/eps))},
    F(w)     = min_{theta in [0,1]} [N_e D(w||theta) - N_r log2(1/2 + M theta)],

with ``N_u = N_e + N_r``. ``F`` is the convex function of ``protocols.qkd.keyrate`` with
``e = N_e/2, r = N_r/2`` (there ``F = 2 e D - 2 r log2(1/2 + M theta)``), so its certified
lower bound (tangents at two points bracketing the stationary root, minus a margin) is reused;
nothing is rounded in the user's favour: the entropy term is a lower bound, the finite-size
term is rounded up by a relative margin, the length is floored.

Device assumption: no-signalling between all 2N measurements and Eve (memoryless devices), as in
the paper; adversary: quantum. The asymptotic rate is

    r^Q(gamma) = min_theta [(2 gamma^2/M) D(w||theta) - (1-gamma)^2 log2(1/2 + M theta)]
                 - (1-gamma)^2 h(lambda).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from protocols.qkd.keyrate import (
    KeyRateInputError,
    _best_gamma,
    _certified_minimum,
    _check_count,
    _check_key_length_inputs,
    _check_open_interval,
    _check_settings,
    _KeyLengthTerms,
    _length_fields,
    _Serialisable,
    _signed_rates as _no_signaling_signed_rates,
    binary_entropy,
    fewest_rounds,
    finite_key_length,
    honest_bell_value,
    quantum_error_rate,
    rate_threshold,
)

_ROUNDING_MARGIN = 1e-9

ADVERSARIES = ("no-signaling", "quantum")
SOURCE = ("docs/quantum_chained_key.md: paper 000 Lemma 10 (eq. A2), Lemma 3 and eqs. (61)-(64); "
          "Koenig-Renner-Schaffner 2009 (H_min = -log2 P_guess); quantum leftover hash lemma "
          "(Renner 2005 Cor. 5.6.1; Tomamichel-Schaffner-Smith-Renner 2011)")
ASSUMPTIONS = ("quantum adversary; no-signalling between all 2N measurements and the adversary "
               "(memoryless devices, paper 000 Sec. II); N_c fixed from public information; "
               "eps in the L1 convention of eq. (59)")

NO_SIGNALING_RATE_SOURCE = "paper 000 eq. (21) with min over theta (protocols.qkd.keyrate)"
NO_SIGNALING_ASSUMPTIONS = ("no-signalling adversary; no-signalling between all 2N measurements "
                            "(paper 000 Sec. II); eps in the L1 convention of eq. (59)")


def _check_adversary(adversary: str) -> None:
    if adversary not in ADVERSARIES:
        raise KeyRateInputError(f"adversary={adversary!r} must be one of {', '.join(ADVERSARIES)}")


@dataclass(frozen=True, kw_only=True)
class _AdversaryModel(_Serialisable):
    """The adversary model, the statement a result rests on and its assumptions (keyword fields)."""

    adversary_model: str = "quantum"
    source: str = SOURCE
    assumptions: str = ASSUMPTIONS


@dataclass(frozen=True)
class QuantumKeyLength(_KeyLengthTerms, _AdversaryModel):
    """``N_s^Q(w)`` (docs/quantum_chained_key.md).

    ``bits = max(0, floor(entropy_term - leakage_term - finite_size_term))`` with
    ``entropy_term`` a certified lower bound on ``min_theta [N_e D(w||theta) - N_r log2(1/2 +
    M theta)]``, ``leakage_term = N_c`` and ``finite_size_term = log2(N_e + 1) + log2(N_u + 1)
    + 2 log2(1/eps)`` (rounded up), ``N_u = N_e + N_r``.
    """


def quantum_key_length(
    *,
    bell_value: float,
    settings: int,
    rounds: int,
    estimation_rounds: int,
    raw_key_rounds: int,
    leaked_bits: int,
    eps: float,
) -> QuantumKeyLength:
    """Secret key length against a quantum adversary, same inputs as ``finite_key_length``.

    ``N_s^Q = max{0, floor(min_theta [N_e D(w||theta) - N_r log2(1/2 + M theta)] - N_c
    - log2(N_e + 1) - log2(N_e + N_r + 1) - 2 log2(1/eps))}``; ``rounds >= N_e + N_r`` is
    checked and reported (the bound uses ``N_u = N_e + N_r``, Lemma 3's number of types).
    """
    _check_key_length_inputs(bell_value, settings, rounds, estimation_rounds, raw_key_rounds,
                             leaked_bits, eps)
    minimum = _certified_minimum(bell_value, estimation_rounds / 2.0, raw_key_rounds / 2.0, int(settings))
    entropy_term = float(minimum.lower_bound)
    used = estimation_rounds + raw_key_rounds
    finite_size_term = math.log2(estimation_rounds + 1) + math.log2(used + 1) + 2.0 * math.log2(1.0 / eps)
    finite_size_term += _ROUNDING_MARGIN * (finite_size_term + 1.0)
    unrounded = entropy_term - leaked_bits - finite_size_term
    return QuantumKeyLength(**_length_fields(minimum, finite_size_term, unrounded, bell_value, settings,
                                             rounds, estimation_rounds, raw_key_rounds, leaked_bits, eps))


# --------------------------------------------------------------------------------------------
# Asymptotic rate
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuantumRate(_AdversaryModel):
    """``lim N_s^Q / N`` at test probability ``gamma`` for Bell value ``w`` and error rate ``lambda``
    (or eq. 21's rate when ``adversary == "no-signaling"``, see :func:`rate_from_statistics`).

    ``signed_rate`` is a certified lower bound on ``min_theta [(2 gamma^2/M) D(w||theta) -
    (1-gamma)^2 log2(1/2 + M theta)] - (1-gamma)^2 h(lambda)``; ``rate = max(0, signed_rate)``.
    With ``gamma`` optimised the rate is the value at the returned gamma (achievable).
    """

    settings: int
    gamma: float
    rate: float
    signed_rate: float
    theta: float
    bell_value: float
    error_rate: float


def _signed_rates(gamma: np.ndarray, settings: int, bell_value: float, error_rate: float):
    gamma = np.asarray(gamma, dtype=float)
    estimation = 2.0 * gamma**2 / settings
    raw = (1.0 - gamma) ** 2
    minimum = _certified_minimum(bell_value, estimation / 2.0, raw / 2.0, settings)
    return minimum.lower_bound - raw * binary_entropy(error_rate), minimum.theta


def _signed_rates_of(adversary: str):
    if adversary == "quantum":
        return _signed_rates

    def no_signaling(gamma, settings, bell_value, error_rate):
        result = _no_signaling_signed_rates(gamma, settings, bell_value, error_rate)
        return result.lower_bound, result.theta

    return no_signaling


def rate_from_statistics(
    *, settings: int, bell_value: float, error_rate: float, gamma: float | None = None,
    adversary: str = "quantum",
) -> QuantumRate:
    """Asymptotic rate for observed ``W-bar`` and QBER ``lambda`` (both in [0, 1/2]).

    ``adversary="quantum"``: the rate of this module; ``"no-signaling"``: eq. (21) of paper 000
    (``protocols.qkd.keyrate``, minimum over theta). ``gamma=None`` maximises over gamma in (0, 1).
    """
    _check_adversary(adversary)
    _check_settings(settings)
    _check_half_interval("bell_value", bell_value)
    _check_half_interval("error_rate", error_rate)
    signed_rates = _signed_rates_of(adversary)
    if gamma is None:
        gamma = _best_gamma(lambda g: signed_rates(g, settings, bell_value, error_rate)[0])
    else:
        _check_open_interval("gamma", gamma)
    signed, theta = signed_rates(np.array([gamma]), settings, bell_value, error_rate)
    quantum = adversary == "quantum"
    return QuantumRate(
        settings=int(settings),
        gamma=float(gamma),
        rate=max(0.0, float(signed[0])),
        signed_rate=float(signed[0]),
        theta=float(theta[0]),
        bell_value=float(bell_value),
        error_rate=float(error_rate),
        adversary_model=adversary,
        source=SOURCE if quantum else NO_SIGNALING_RATE_SOURCE,
        assumptions=ASSUMPTIONS if quantum else NO_SIGNALING_ASSUMPTIONS,
    )


def asymptotic_quantum_rate(*, settings: int, noise: float, gamma: float | None = None) -> QuantumRate:
    """Rate for the noisy EPR pair of Sec. III C: ``w = <W>`` of eq. (26), ``lambda = xi/2``."""
    return rate_from_statistics(
        settings=settings,
        bell_value=honest_bell_value(settings, noise),
        error_rate=quantum_error_rate(noise),
        gamma=gamma,
    )


def quantum_noise_threshold(*, settings: int) -> float:
    """Noise ``xi`` above which the optimised asymptotic quantum rate is zero.

    Bisection on [0, 1/2] of the sign of the certified optimised rate to 1e-7; returns the lower
    end of the final bracket (where the rate was verified positive), 0.0 if no key at xi = 0.
    """
    _check_settings(settings)
    return rate_threshold(lambda noise: asymptotic_quantum_rate(settings=settings, noise=noise).signed_rate,
                          settings)


# --------------------------------------------------------------------------------------------
# Expected finite key for given statistics or noise
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatisticsKeyLength(_AdversaryModel):
    """Finite key at ``rounds`` for a Bell value ``w`` and QBER ``lambda``, either adversary.

    An expectation, not a certificate of a run: it uses the planned counts
    ``N_e = floor(2 N gamma^2/M)``, ``N_r = floor(N (1-gamma)^2)`` and the Shannon-limit leak
    ``N_c = ceil(N_r h(lambda))`` (eq. 15; a real code leaks more) with the formula of the chosen
    adversary: eq. (17) (``no-signaling``) or ``N_s^Q`` (``quantum``).
    """

    settings: int
    bell_value: float
    error_rate: float
    rounds: int
    eps: float
    gamma: float
    bits: int
    estimation_rounds: int
    raw_key_rounds: int
    leaked_bits: int
    unrounded: float


def _length(adversary: str, settings: int, bell_value: float, error_rate: float, rounds: int,
            eps: float, gamma: float):
    estimation = math.floor(2.0 * rounds * gamma**2 / settings)
    raw = math.floor(rounds * (1.0 - gamma) ** 2)
    if estimation < 1 or raw < 1:
        return None
    leaked = math.ceil(raw * binary_entropy(error_rate))
    compute = quantum_key_length if adversary == "quantum" else finite_key_length
    return compute(bell_value=bell_value, settings=settings, rounds=rounds, estimation_rounds=estimation,
                   raw_key_rounds=raw, leaked_bits=leaked, eps=eps)


def key_length_from_statistics(
    *,
    settings: int,
    bell_value: float,
    error_rate: float,
    rounds: int,
    eps: float,
    adversary: str = "quantum",
    gamma: float | None = None,
) -> StatisticsKeyLength:
    """Expected key length (see :class:`StatisticsKeyLength`); ``gamma=None`` maximises it.

    ``bell_value`` and ``error_rate`` must lie in [0, 1/2]; ``adversary`` in ``ADVERSARIES``.
    """
    _check_adversary(adversary)
    _check_settings(settings)
    _check_half_interval("bell_value", bell_value)
    _check_half_interval("error_rate", error_rate)
    _check_count("rounds", rounds, 1)
    _check_open_interval("eps", eps)

    def unrounded(gammas: np.ndarray) -> np.ndarray:
        values = []
        for g in gammas:
            length = _length(adversary, settings, bell_value, error_rate, rounds, eps, float(g))
            values.append(-math.inf if length is None else length.unrounded)
        return np.array(values)

    if gamma is None:
        gamma = _best_gamma(unrounded, grid_size=100)
    else:
        _check_open_interval("gamma", gamma)
    length = _length(adversary, settings, bell_value, error_rate, rounds, eps, gamma)
    if length is None:
        raise KeyRateInputError(
            f"rounds={rounds} with gamma={gamma:.4g}: expected estimation or raw-key rounds below 1; "
            "use more rounds")
    return StatisticsKeyLength(
        settings=int(settings),
        bell_value=float(bell_value),
        error_rate=float(error_rate),
        rounds=int(rounds),
        eps=float(eps),
        gamma=float(gamma),
        adversary_model=adversary,
        bits=length.bits,
        estimation_rounds=length.estimation_rounds,
        raw_key_rounds=length.raw_key_rounds,
        leaked_bits=length.leakage_term,
        unrounded=length.unrounded,
        source=length.source,
        assumptions=ASSUMPTIONS if adversary == "quantum" else NO_SIGNALING_ASSUMPTIONS,
    )


def expected_quantum_key_length(
    *, settings: int, noise: float, rounds: int, eps: float, gamma: float | None = None
) -> StatisticsKeyLength:
    """Expected quantum-adversary key at ``rounds`` for the noisy EPR pair (eq. 26, lambda = xi/2)."""
    return key_length_from_statistics(
        settings=settings,
        bell_value=honest_bell_value(settings, noise),
        error_rate=quantum_error_rate(noise),
        rounds=rounds,
        eps=eps,
        adversary="quantum",
        gamma=gamma,
    )


def _check_half_interval(name: str, value: float) -> None:
    if not (0.0 <= value <= 0.5):
        raise KeyRateInputError(f"{name}={value!r} must lie in [0, 1/2]")


def rounds_for_key_from_statistics(
    *, settings: int, bell_value: float, error_rate: float, eps: float, adversary: str = "quantum",
    bits: int = 1, max_rounds: int = 10**15,
) -> int | None:
    """About the fewest rounds N whose expected key (:func:`key_length_from_statistics`) is >= ``bits``.

    :func:`protocols.qkd.keyrate.fewest_rounds` (brentq) on the unrounded length minus ``bits``,
    to a relative 1e-5; the returned N is one where the length was evaluated and found >= ``bits``.
    ``None`` when no N up to ``max_rounds`` suffices.
    """
    _check_count("bits", bits, 1)

    def margin(rounds: int) -> float:
        try:
            return key_length_from_statistics(
                settings=settings, bell_value=bell_value, error_rate=error_rate, rounds=rounds, eps=eps,
                adversary=adversary).unrounded - bits
        except KeyRateInputError:  # no expected estimation or raw-key round: no key
            return -float(bits)

    return fewest_rounds(margin, max_rounds)
