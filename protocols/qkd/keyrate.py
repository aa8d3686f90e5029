"""Finite key length and asymptotic key rate of DI-QKD against no-signaling adversaries.

Source: paper 000 (shared/papers/000_5a2926a5bfa1921a.txt), eqs. (17), (21), (26), Lemma 8
(eqs. 58-65).

The entropy term and its minimum over theta
-------------------------------------------
Eqs. (17), (21) and (58) print a *maximum* over theta in [0, 1]. The proof of Lemma 8 says
otherwise: the last step of (65) replaces, inside ``max_theta``,

    2^{(N_r + N_s + N_c + 1)/2} 2^{-N_e D(w||theta) + N_r log2(1/2 + M theta)}

by ``2^{1/2 - log2(8 N_e N_u / eps)}``, which is an upper bound for *every* theta only if

    N_s <= 2 N_e D(w||theta) - 2 N_r log2(1/2 + M theta) - N_r - N_c - 2 log2(8 N_e N_u / eps)

for every theta, i.e. for the *minimum* over theta. With a maximum, theta -> 0 would make
``D(w||theta)`` infinite and the key length unbounded, so the printed ``max`` is a typo (or an
extraction artefact). This module uses the minimum throughout.

Write ``F(theta) = 2 e D(w||theta) - 2 r log2(1/2 + M theta)`` with ``e, r > 0``
(``e = N_e, r = N_r`` in eq. 17; ``e = 2 gamma^2 / M, r = (1 - gamma)^2`` in eq. 21).

* ``F`` is convex on [0, 1]: ``D(w||.)`` is convex, and ``-log2`` of an affine function is
  convex. Its derivative is

      ln2 F'(theta) = 2 e (theta - w) / (theta (1 - theta)) - 2 r M / (1/2 + M theta).

* ``F' = 0`` is the quadratic ``M(e + r) theta^2 + (e/2 - e M w - r M) theta - e w / 2 = 0``,
  whose value is ``r M w (w - 1) <= 0`` at theta = w and ``e (M + 1/2)(1 - w) >= 0`` at theta = 1;
  so the minimiser is its root in [w, 1] (closed form, no iterative search).

How the minimum is certified (never rounded in the user's favour)
-----------------------------------------------------------------
Evaluating ``F`` at a computed minimiser gives ``F(theta_hat) >= min F``: an *upper* bound,
which would overstate the key. Instead the code takes two points ``p <= theta_hat <= q`` a
relative 1e-7 apart and uses convexity: ``F >= max(t_p, t_q)`` on [0, 1], where ``t_p, t_q``
are the tangents at p and q, so ``min F >= min_{[0,1]} max(t_p, t_q)``, a piecewise-linear
minimum attained at 0, 1 or the tangents' crossing. This holds whatever p and q are (it is
tight when they bracket the minimiser). A margin of ``1e-9 (e + r + 1)`` bits, far above the
double-precision error of the evaluation, is then subtracted, and key lengths are floored.

Findings against the paper's text (checked in tests/test_keyrate.py)
--------------------------------------------------------------------
* With the minimum over theta, M = 7 gives 0.00416 bits per round at xi = 0 (gamma ~ 0.887),
  the best M, and its rate vanishes at xi ~ 0.0276, as in Fig. 2. M = 2 gives no key.
* M = 3 gives a small *positive* rate (~5.5e-5 at gamma ~ 0.935), where the paper says zero;
  a brute-force grid over theta and gamma confirms it.
* The factor ``1/2 + M theta`` of eq. (9) exceeds 1 for theta > 1/(2M); eq. (17) keeps it as
  printed (it is what Lemma 8 proves), so with few estimation rounds (N_e < 2 M N_r) even
  W-bar = 0 can give no key.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
from scipy.special import entr, rel_entr

from protocols.bell.chained import quantum_bell_value

_LN2 = math.log(2.0)
_BRACKET_RELATIVE_WIDTH = 1e-7
_BRACKET_ABSOLUTE_WIDTH = 1e-12
_ROUNDING_MARGIN = 1e-9
_GAMMA_GRID = 400
_MAX_AUTO_SETTINGS = 40
_THRESHOLD_TOLERANCE = 1e-7
_ROUNDS_RELATIVE_TOLERANCE = 1e-5
_LN10 = math.log(10.0)


class KeyRateInputError(ValueError):
    """A key-length or key-rate parameter is outside its allowed range."""


# --------------------------------------------------------------------------------------------
# Entropies
# --------------------------------------------------------------------------------------------


def binary_entropy(p: float | np.ndarray) -> float | np.ndarray:
    """Binary Shannon entropy ``h(p) = -p log2 p - (1-p) log2(1-p)`` (paper 000, eq. 16).

    ``h(0) = h(1) = 0``. Accepts scalars or arrays; values outside [0, 1] raise.
    """
    values = np.asarray(p, dtype=float)
    if np.any(~((values >= 0.0) & (values <= 1.0))):
        raise KeyRateInputError(f"p={p!r} must lie in [0, 1]")
    result = (entr(values) + entr(1.0 - values)) / _LN2
    return float(result) if result.ndim == 0 else result


def binary_relative_entropy(a: float | np.ndarray, b: float | np.ndarray) -> float | np.ndarray:
    """Binary relative entropy ``D(a||b) = a log2(a/b) + (1-a) log2((1-a)/(1-b))`` (eq. 18).

    Uses ``0 log 0 = 0``; the value is ``+inf`` when ``b`` is 0 or 1 and ``a`` differs from it.
    """
    first = np.asarray(a, dtype=float)
    second = np.asarray(b, dtype=float)
    for name, values in (("a", first), ("b", second)):
        if np.any(~((values >= 0.0) & (values <= 1.0))):
            raise KeyRateInputError(f"{name}={values!r} must lie in [0, 1]")
    result = _relative_entropy(first, second)
    return float(result) if result.ndim == 0 else result


def _relative_entropy(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``D(a||b)`` in bits for arrays in [0, 1], unchecked (``scipy.special.rel_entr``: ``x ln(x/y)``
    with ``0 ln(0/y) = 0`` and ``+inf`` for ``x > 0 = y``)."""
    return (rel_entr(a, b) + rel_entr(1.0 - a, 1.0 - b)) / _LN2


# --------------------------------------------------------------------------------------------
# The certified minimum over theta
# --------------------------------------------------------------------------------------------


def _objective(theta: np.ndarray, w: np.ndarray, e: np.ndarray, r: np.ndarray, m: int) -> np.ndarray:
    """``F(theta) = 2 e D(w||theta) - 2 r log2(1/2 + M theta)``."""
    return 2.0 * e * _relative_entropy(w, theta) - 2.0 * r * np.log2(0.5 + m * theta)


def _derivative(theta: np.ndarray, w: np.ndarray, e: np.ndarray, r: np.ndarray, m: int) -> np.ndarray:
    """``F'(theta)``, one-sided at theta = 0 (only used there when w = 0) and theta = 1 (w = 1)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(
            w == 0.0,
            1.0 / (1.0 - theta),
            np.where(w == 1.0, -1.0 / theta, (theta - w) / (theta * (1.0 - theta))),
        )
    return (2.0 * e * slope - 2.0 * r * m / (0.5 + m * theta)) / _LN2


def _stationary_theta(w: np.ndarray, e: np.ndarray, r: np.ndarray, m: int) -> np.ndarray:
    """The root in [w, 1] of ``M(e+r) t^2 + (e/2 - e M w - r M) t - e w/2`` (stable formula)."""
    a = m * (e + r)
    b = e / 2.0 - e * m * w - r * m
    c = -e * w / 2.0
    root_disc = np.sqrt(b * b - 4.0 * a * c)
    with np.errstate(divide="ignore", invalid="ignore"):
        theta = np.where(b <= 0.0, (-b + root_disc) / (2.0 * a), -2.0 * c / (b + root_disc))
    return np.clip(np.nan_to_num(theta, nan=0.0), w, 1.0)


@dataclass(frozen=True)
class _EntropyMinimum:
    """``min_theta F(theta)``: a certified lower bound and the (approximate) minimiser."""

    lower_bound: np.ndarray
    theta: np.ndarray


def _certified_minimum(w, e, r, m: int) -> _EntropyMinimum:
    """A certified lower bound on ``min_{theta in [0,1]} F(theta)`` (see module docstring).

    ``w, e, r`` broadcast against each other; ``e, r > 0``.
    """
    w, e, r = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (w, e, r)))
    theta = _stationary_theta(w, e, r, m)
    p = theta * (1.0 - _BRACKET_RELATIVE_WIDTH)
    q = theta + np.minimum(
        _BRACKET_RELATIVE_WIDTH * theta + _BRACKET_ABSOLUTE_WIDTH, (1.0 - theta) / 2.0
    )
    f_p, s_p = _objective(p, w, e, r, m), _derivative(p, w, e, r, m)
    f_q, s_q = _objective(q, w, e, r, m), _derivative(q, w, e, r, m)

    def tangent_max(t: np.ndarray) -> np.ndarray:
        return np.maximum(f_p + s_p * (t - p), f_q + s_q * (t - q))

    candidates = [tangent_max(np.zeros_like(w)), tangent_max(np.ones_like(w))]
    with np.errstate(divide="ignore", invalid="ignore"):
        crossing = (f_q - f_p + s_p * p - s_q * q) / (s_p - s_q)
    crossing = np.where(np.isfinite(crossing), np.clip(crossing, 0.0, 1.0), p)
    candidates.append(tangent_max(crossing))
    bound = np.minimum.reduce(candidates)
    bound = bound - _ROUNDING_MARGIN * (e + r + 1.0)
    return _EntropyMinimum(lower_bound=bound, theta=theta)


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


def _check_settings(settings: int) -> None:
    if isinstance(settings, bool) or not isinstance(settings, (int, np.integer)) or settings < 2:
        raise KeyRateInputError(f"settings={settings!r} must be an integer >= 2")


def _check_unit_interval(name: str, value: float) -> None:
    if not (0.0 <= value <= 1.0):
        raise KeyRateInputError(f"{name}={value!r} must lie in [0, 1]")


def _check_open_interval(name: str, value: float) -> None:
    if not (0.0 < value < 1.0):
        raise KeyRateInputError(f"{name}={value!r} must lie in the open interval (0, 1)")


def _check_count(name: str, value: int, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise KeyRateInputError(f"{name}={value!r} must be an integer >= {minimum}")


class _Serialisable:
    """Mixin for the result dataclasses: ``to_dict()`` gives their fields as a JSON-ready dict."""

    def to_dict(self) -> dict[str, object]:
        return asdict(self)  # type: ignore[call-overload]


# --------------------------------------------------------------------------------------------
# Finite key length, eq. (17)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _KeyLengthTerms(_Serialisable):
    """The fields of a finite key length shared by both adversary models: ``bits`` (floored, >= 0),
    the minimiser ``theta``, the certified ``entropy_term``, ``leakage_term = N_c``, the
    ``finite_size_term`` (rounded up), ``unrounded`` (before the floor) and the inputs."""

    bits: int
    theta: float
    entropy_term: float
    leakage_term: int
    finite_size_term: float
    unrounded: float
    bell_value: float
    settings: int
    rounds: int
    estimation_rounds: int
    raw_key_rounds: int
    eps: float


def _check_key_length_inputs(bell_value: float, settings: int, rounds: int, estimation_rounds: int,
                             raw_key_rounds: int, leaked_bits: int, eps: float) -> None:
    """The ranges of the key-length inputs (both adversary models)."""
    _check_unit_interval("bell_value", bell_value)
    _check_settings(settings)
    _check_count("estimation_rounds", estimation_rounds, 1)
    _check_count("raw_key_rounds", raw_key_rounds, 1)
    _check_count("leaked_bits", leaked_bits, 0)
    _check_count("rounds", rounds, estimation_rounds + raw_key_rounds)
    _check_open_interval("eps", eps)


def _length_fields(minimum: _EntropyMinimum, finite_size_term: float, unrounded: float,
                   bell_value: float, settings: int, rounds: int, estimation_rounds: int,
                   raw_key_rounds: int, leaked_bits: int, eps: float) -> dict[str, object]:
    """The :class:`_KeyLengthTerms` fields, with ``bits = max(0, floor(unrounded))``."""
    return {"bits": max(0, math.floor(unrounded)), "theta": float(minimum.theta),
            "entropy_term": float(minimum.lower_bound), "leakage_term": int(leaked_bits),
            "finite_size_term": finite_size_term, "unrounded": unrounded,
            "bell_value": float(bell_value), "settings": int(settings), "rounds": int(rounds),
            "estimation_rounds": int(estimation_rounds), "raw_key_rounds": int(raw_key_rounds),
            "eps": float(eps)}


@dataclass(frozen=True)
class KeyLength(_KeyLengthTerms):
    """Secret key length ``N_s(w)`` of paper 000 eq. (17) (minimum over theta, see module doc).

    ``bits = floor(max(0, entropy_term - raw_key_term - leakage_term - finite_size_term))``
    with ``entropy_term`` a certified lower bound on
    ``min_theta [2 N_e D(w||theta) - 2 N_r log2(1/2 + M theta)]``, ``raw_key_term = N_r``,
    ``leakage_term = N_c`` and ``finite_size_term = 2 log2(8 N_e N / eps)``.
    """

    raw_key_term: int
    source: str = "paper 000 eq. (17) with min over theta (Lemma 8, eqs. 61-65)"


def finite_key_length(
    *,
    bell_value: float,
    settings: int,
    rounds: int,
    estimation_rounds: int,
    raw_key_rounds: int,
    leaked_bits: int,
    eps: float,
) -> KeyLength:
    """Length of the secret key after privacy amplification, paper 000 eq. (17).

    ``N_s(w) = floor(max{0, min_theta [2 N_e D(w||theta) - 2 N_r log2(1/2 + M theta)]
    - N_r - N_c - 2 log2(8 N_e N / eps)})``, with ``w`` the observed Bell value W-bar (eq. 13),
    ``N_e`` the estimation rounds (eq. 12), ``N_r`` the raw-key rounds (eq. 14), ``N_c`` every
    bit published about the raw key, and the total number of rounds ``N`` in place of
    ``N_u = N_e + N_r`` of eq. (58) (``N >= N_u``, so this is conservative). The key is
    ``eps``-secret in the sense of eq. (59); the protocol's total error is eq. (20).

    Lemma 8 needs ``N_e >= 1`` and ``N_r >= 1``: a run with no estimation or no raw-key round
    must abort before calling this.
    """
    _check_key_length_inputs(bell_value, settings, rounds, estimation_rounds, raw_key_rounds,
                             leaked_bits, eps)
    minimum = _certified_minimum(bell_value, estimation_rounds, raw_key_rounds, int(settings))
    entropy_term = float(minimum.lower_bound)
    finite_size_term = 2.0 * math.log2(8.0 * estimation_rounds * rounds / eps)
    finite_size_term += _ROUNDING_MARGIN * (finite_size_term + 1.0)
    unrounded = entropy_term - raw_key_rounds - leaked_bits - finite_size_term
    return KeyLength(raw_key_term=int(raw_key_rounds), **_length_fields(
        minimum, finite_size_term, unrounded, bell_value, settings, rounds, estimation_rounds,
        raw_key_rounds, leaked_bits, eps))


# --------------------------------------------------------------------------------------------
# Quantum implementation, Sec. III C
# --------------------------------------------------------------------------------------------


def honest_bell_value(settings: int, noise: float) -> float:
    """``<W>`` of the noisy EPR pair, eq. (26), after checking the parameters."""
    _check_settings(settings)
    _check_unit_interval("noise", noise)
    return float(quantum_bell_value(settings, noise))


def quantum_error_rate(noise: float) -> float:
    """Key-round error rate ``lambda = xi / 2``: settings x = 0, y = M are the same observable
    (eq. 25), so the EPR part agrees and the white-noise part ``xi I/4`` errs half the time."""
    _check_unit_interval("noise", noise)
    return noise / 2.0


# --------------------------------------------------------------------------------------------
# Asymptotic rate, eq. (21)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RateResult(_Serialisable):
    """Asymptotic key rate ``lim N_s / N`` of paper 000 eq. (21) (minimum over theta).

    ``rate = max(0, signed_rate)``; ``signed_rate`` is a certified lower bound on the bracket
    of eq. (21) at this ``gamma``. With ``gamma`` optimised numerically the rate is the value
    *at the returned gamma*, which is achievable (it can only understate the optimum).
    """

    settings: int
    noise: float
    gamma: float
    rate: float
    signed_rate: float
    theta: float
    bell_value: float
    error_rate: float
    source: str = "paper 000 eq. (21) with min over theta; eq. (26); lambda = xi/2"


def _signed_rates(gamma: np.ndarray, settings: int, bell_value: float, error_rate: float) -> _EntropyMinimum:
    """Certified lower bounds on eq. (21) for an array of gamma (theta minimum per gamma)."""
    gamma = np.asarray(gamma, dtype=float)
    estimation = 2.0 * gamma**2 / settings
    raw = (1.0 - gamma) ** 2
    minimum = _certified_minimum(bell_value, estimation, raw, settings)
    rates = minimum.lower_bound - raw * (1.0 + binary_entropy(error_rate))
    return _EntropyMinimum(lower_bound=rates, theta=minimum.theta)


def _best_gamma(objective, grid_size: int = _GAMMA_GRID) -> float:
    """Maximise ``objective(gamma array) -> array`` on (0, 1): grid, then bounded Brent."""
    grid = np.linspace(0.0, 1.0, grid_size + 1)[1:-1]
    values = objective(grid)
    best = int(np.argmax(values))
    if not np.isfinite(values[best]):  # no gamma gives a finite objective: nothing to refine
        return float(grid[best])
    low = grid[best - 1] if best > 0 else grid[0] / 2.0
    high = grid[best + 1] if best < grid.size - 1 else (grid[-1] + 1.0) / 2.0
    from scipy.optimize import minimize_scalar  # on first use: scipy.optimize costs ~0.3 s to import

    refined = minimize_scalar(
        # -inf (no estimation or raw-key round expected) floored, so Brent's steps stay finite
        lambda g: -max(float(objective(np.array([g]))[0]), -1e300),
        bounds=(low, high),
        method="bounded",
        options={"xatol": 1e-10},
    )
    return float(refined.x) if -refined.fun >= values[best] else float(grid[best])


def asymptotic_rate(*, settings: int, noise: float, gamma: float | None = None) -> RateResult:
    """Asymptotic key rate of eq. (21) for the quantum implementation of Sec. III C.

    ``r(gamma) = -(1-gamma)^2 [1 + h(lambda)] + min_theta [(4 gamma^2/M) D(w||theta)
    - 2 (1-gamma)^2 log2(1/2 + M theta)]`` with ``w`` from eq. (26) and ``lambda = xi/2``;
    ``N_e/N -> 2 gamma^2/M``, ``N_r/N -> (1-gamma)^2`` and ``N_c/N_r -> h(lambda)`` (eq. 15).
    ``gamma=None`` maximises over gamma in (0, 1).
    """
    _check_settings(settings)
    bell_value = honest_bell_value(settings, noise)
    error_rate = quantum_error_rate(noise)
    if gamma is None:
        gamma = _best_gamma(lambda g: _signed_rates(g, settings, bell_value, error_rate).lower_bound)
    else:
        _check_open_interval("gamma", gamma)
    result = _signed_rates(np.array([gamma]), settings, bell_value, error_rate)
    signed = float(result.lower_bound[0])
    return RateResult(
        settings=int(settings),
        noise=float(noise),
        gamma=float(gamma),
        rate=max(0.0, signed),
        signed_rate=signed,
        theta=float(result.theta[0]),
        bell_value=bell_value,
        error_rate=error_rate,
    )


def optimal_settings(*, noise: float, max_settings: int = _MAX_AUTO_SETTINGS) -> RateResult:
    """The number of settings M in [2, max_settings] with the largest optimised rate (eq. 21).

    Ties go to the smaller M. At xi = 0 the optimum is M = 7 (paper 000, Sec. III C).
    """
    _check_count("max_settings", max_settings, 2)
    results = [asymptotic_rate(settings=m, noise=noise) for m in range(2, max_settings + 1)]
    return max(results, key=lambda result: (result.signed_rate, -result.settings))


def noise_threshold(*, settings: int) -> float:
    """Noise ``xi`` above which the optimised asymptotic rate of eq. (21) is zero.

    The sign change of the gamma-optimised certified rate on xi in [0, 1/2] to within 1e-7
    (:func:`rate_threshold`); the returned value is one where the rate was verified positive
    (rounded *down*). Returns 0.0 when there is no key even at xi = 0 (for example M = 2).
    """
    _check_settings(settings)
    return rate_threshold(lambda noise: asymptotic_rate(settings=settings, noise=noise).signed_rate, settings)


def rate_threshold(signed_rate: Callable[[float], float], settings: int) -> float:
    """The noise ``xi`` in [0, 1/2] where ``signed_rate`` (continuous, falling with noise) changes
    sign, rounded *down* to a point where ``signed_rate(xi) > 0`` was verified.

    ``scipy.optimize.brentq`` on [0, 1/2] returns ``x0`` within ``t = 1e-7/4`` of a sign change
    ``x*``; the answer is the first of ``x0 - t, x0 - 2t, ...`` (clipped at 0) with a positive
    rate, so it lies below ``x*`` (within ``2t`` when the first step succeeds, as it does when the
    rate is monotone). 0.0 when the rate is not positive at xi = 0."""
    if not signed_rate(0.0) > 0.0:
        return 0.0
    if signed_rate(0.5) > 0.0:
        raise KeyRateInputError(f"settings={settings}: rate still positive at noise=0.5")
    step = _THRESHOLD_TOLERANCE / 4.0
    from scipy.optimize import brentq  # on first use (as in _best_gamma)

    root = brentq(signed_rate, 0.0, 0.5, xtol=step)
    candidate = max(0.0, root - step)
    while candidate > 0.0 and not signed_rate(candidate) > 0.0:
        candidate = max(0.0, candidate - step)
    return candidate


# --------------------------------------------------------------------------------------------
# Expected finite key length at a given number of rounds
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExpectedKeyLength:
    """Expected key length of eq. (17) for honest quantum devices (Sec. III C) at N rounds.

    An *expectation*, not a certificate: it plugs the expected counts
    ``N_e = floor(2 N gamma^2 / M)``, ``N_r = floor(N (1-gamma)^2)``,
    ``N_c = ceil(N_r h(lambda))`` (the Shannon limit, eq. 15; a real code leaks more) and
    ``w = <W>`` of eq. (26) into eq. (17). A run's actual length follows from its observed
    W-bar and its real leakage.
    """

    settings: int
    noise: float
    rounds: int
    eps: float
    gamma: float
    key_length: KeyLength

    @property
    def bits(self) -> int:
        return self.key_length.bits

    def to_dict(self) -> dict[str, object]:
        return {
            "settings": self.settings,
            "noise": self.noise,
            "rounds": self.rounds,
            "eps": self.eps,
            "gamma": self.gamma,
            "key_length": self.key_length.bits,
            "estimation_rounds": self.key_length.estimation_rounds,
            "raw_key_rounds": self.key_length.raw_key_rounds,
            "leaked_bits": self.key_length.leakage_term,
        }


def _expected_length(settings: int, noise: float, rounds: int, eps: float, gamma: float) -> KeyLength | None:
    estimation = math.floor(2.0 * rounds * gamma**2 / settings)
    raw = math.floor(rounds * (1.0 - gamma) ** 2)
    if estimation < 1 or raw < 1:
        return None
    leaked = math.ceil(raw * binary_entropy(quantum_error_rate(noise)))
    return finite_key_length(
        bell_value=honest_bell_value(settings, noise),
        settings=settings,
        rounds=rounds,
        estimation_rounds=estimation,
        raw_key_rounds=raw,
        leaked_bits=leaked,
        eps=eps,
    )


def expected_key_length(
    *, settings: int, noise: float, rounds: int, eps: float, gamma: float | None = None
) -> ExpectedKeyLength:
    """Expected finite key length (eq. 17) at ``rounds`` for the quantum implementation.

    ``gamma=None`` maximises the (unrounded) expected length over gamma in (0, 1). See
    :class:`ExpectedKeyLength` for why this is an expectation and not a security certificate.
    """
    _check_settings(settings)
    _check_unit_interval("noise", noise)
    _check_count("rounds", rounds, 1)
    _check_open_interval("eps", eps)

    def unrounded(gammas: np.ndarray) -> np.ndarray:
        values = []
        for g in gammas:
            length = _expected_length(settings, noise, rounds, eps, float(g))
            values.append(-math.inf if length is None else length.unrounded)
        return np.array(values)

    if gamma is None:
        gamma = _best_gamma(unrounded, grid_size=100)
    else:
        _check_open_interval("gamma", gamma)
    length = _expected_length(settings, noise, rounds, eps, gamma)
    if length is None:
        raise KeyRateInputError(
            f"rounds={rounds} with gamma={gamma:.4g}: expected estimation or raw-key rounds "
            "below 1; use more rounds"
        )
    return ExpectedKeyLength(settings, float(noise), int(rounds), float(eps), float(gamma), length)


def rounds_for_key(
    *, settings: int, noise: float, eps: float, bits: int = 1, max_rounds: int = 10**15
) -> int | None:
    """About the fewest rounds N whose expected key length (gamma optimised) is >= ``bits``.

    :func:`fewest_rounds` on the unrounded expected length minus ``bits`` (the key is
    ``floor(unrounded) >= bits`` exactly when the margin is >= 0); the returned N is one where
    the expected length was evaluated and found >= ``bits`` (the length is not exactly monotone
    in N because of floors, so a slightly smaller N may also work). ``None`` when no N up to
    ``max_rounds`` suffices (e.g. noise above the threshold). An expectation, like
    :func:`expected_key_length`.
    """
    _check_count("bits", bits, 1)

    def margin(rounds: int) -> float:
        try:
            return expected_key_length(settings=settings, noise=noise, rounds=rounds,
                                       eps=eps).key_length.unrounded - bits
        except KeyRateInputError:  # no expected estimation or raw-key round: no key
            return -float(bits)

    if asymptotic_rate(settings=settings, noise=noise).signed_rate <= 0.0:
        return None
    return fewest_rounds(margin, max_rounds)


def fewest_rounds(margin: Callable[[int], float], max_rounds: int) -> int | None:
    """About the fewest N in [1, ``max_rounds``] with ``margin(N) >= 0``, for a ``margin``
    (a float, e.g. unrounded key length minus the bits wanted) increasing in N up to floors.

    ``scipy.optimize.brentq`` finds the sign change of ``margin(round(10**t))`` on
    ``t in [0, log10 max_rounds]`` to a relative 1e-5 in N; the answer is then the first of
    ``ceil(10**t0)``, grown by factors of 1 + 1e-5, where ``margin >= 0`` was evaluated, so the
    returned N always has ``margin(N) >= 0``. ``None`` when ``margin(max_rounds) < 0``."""
    def value(rounds: int) -> float:
        result = margin(rounds)
        if isinstance(result, (bool, np.bool_)):
            raise TypeError("fewest_rounds needs a numeric margin (>= 0 means enough), not a bool")
        return float(result)

    if value(max_rounds) < 0.0:
        return None
    if value(1) >= 0.0:
        return 1
    top = math.log10(max_rounds)
    from scipy.optimize import brentq  # on first use (as in _best_gamma)

    root = brentq(lambda t: value(round(10.0**t)), 0.0, top, xtol=_ROUNDS_RELATIVE_TOLERANCE / _LN10)
    rounds = min(max_rounds, math.ceil(10.0**root))
    while value(rounds) < 0.0:
        rounds = min(max_rounds, math.ceil(rounds * (1.0 + _ROUNDS_RELATIVE_TOLERANCE)))
    return rounds
