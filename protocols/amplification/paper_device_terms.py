"""Per-device terms of paper 004's chain (Theorem 20, Props. 19 and 24-25), shared by the paper
certificates of Protocol I (:mod:`protocols.amplification.certificate`) and Protocol II
(:mod:`protocols.amplification.protocol2`).

For ``n`` runs, SV parameter ``eps``, threshold ``delta`` and free ``delta_Az``: Azuma plus Markov
(Lemma 7, eq. (26); Lemma 18): ``eps_Az = 2 exp(-delta_Az**2 n / 4)``; Lemma 9: ``g = n -
floor(n sqrt(delta + delta_Az))`` good positions; Lemma 10 and the run-time LP of Lemma 11:
``gamma``; Lemma 12 and eqs. (105)-(110): ``delta_1 = (max(eps_Az, gamma**g) + eps_Az) (floor(delta n)
+ 1)``; the proof of Theorem 20 with a free Markov threshold ``k``: the integer ``k`` minimising
``e_ext(k) + 2 delta_1 2**k``. The derivation of each step is in
:mod:`protocols.amplification.certificate`'s docstring.

Optimisers (the bound holds for every ``delta_Az`` and ``k``, so no optimiser can make it
unsafe): ``k`` by integer bisection on the balance of its two terms plus the neighbours;
``delta_Az`` by a log-spaced scan and 20 golden-section steps in ``log delta_Az``. These are kept
hand-written rather than ``scipy.optimize``: ``k`` is an integer (``brentq`` needs a continuous
root), and replacing the golden section by ``minimize_scalar`` changes which ``delta_Az`` is found,
hence the certified numbers, which must stay as published.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from extractors.models import TwoSourceExtractorModel
from protocols.amplification.certificate_base import (Log2ErrorBound, log2_sum,
                                                      min_setting_probability)
from protocols.amplification.lp_cache import certified_on_grid


LOG2E = math.log2(math.e)
LP_GRID = 2**-12
"""Lemma 11 is evaluated at the Bell-sum bound rounded *up* to this grid: the LP maximum is
non-decreasing in the bound, so the rounded value is still an upper bound."""


def gamma_bound(bell_sum_bound: float) -> float:
    """Lemma 11 bound used in certificates, at the bound rounded up to :data:`LP_GRID`."""
    return _gamma_on_grid(math.ceil(bell_sum_bound / LP_GRID))


@lru_cache(maxsize=None)
def _gamma_on_grid(index: int) -> float:
    """Lemma 11's certified bound at Bell sum ``index * LP_GRID`` (exact: the grid is a power of
    2); cached in memory and on disk (:mod:`protocols.amplification.lp_cache`), since the
    optimisers of ``delta_Az`` and ``n`` revisit the same grid points."""
    if index * LP_GRID >= 2.0:  # local boxes reach Bell sum 2 with deterministic outputs
        return 1.0
    return certified_on_grid(index, LP_GRID)


def largest_bell_bound(eps: float) -> float:
    """Largest ``delta + delta_Az`` for which the certificate can have ``gamma < 1``.

    ``gamma < 1`` needs the Lemma 10 Bell-sum bound ``sqrt(delta + delta_Az) / (1/2 - eps)**4``
    below 2 (local deterministic boxes reach 2): ``delta + delta_Az < 4 (1/2 - eps)**8``.
    """
    return (2.0 * min_setting_probability(eps)) ** 2


@dataclass(frozen=True)
class DeviceTerms(Log2ErrorBound):
    """The quantities of steps 1-6 (module docstring) that Protocols I and II share.

    ``delta_az`` .. ``log2_delta1`` are per device (returned by :func:`gamma_terms`); the fields
    from ``x_length`` on describe the extractor's inputs and the error terms.
    """

    runs: int
    eps: float
    delta: float
    output_bits: int
    delta_az: float
    log2_eps_az: float
    bell_bound: float
    good_positions: int
    mu: float
    lemma10_bell_sum: float
    gamma: float
    gamma_paper: float
    log2_gamma_power: float
    log2_bell_count_values: float
    log2_delta1: float
    x_length: int
    x_min_entropy: int
    t_length: int
    t_min_entropy: float
    extractor: str
    log2_extractor_error: float
    log2_markov_term: float
    log2_d_times_acceptance: float
    log2_error_bound: float


def gamma_terms(runs: int, eps: float, delta: float, delta_az: float) -> dict[str, float]:
    """Lemma 9-12 quantities and ``delta_1`` (eqs. (105)-(110)).

    ``good = n - floor(n sqrt(delta + delta_Az))`` is computed with every rounding pushed
    upwards inside the floor, so it is never one too large. The published Bell-test count
    (``bell_average`` in every report) takes one of ``floor(delta n) + 1`` values on
    acceptance; conditioning on it multiplies the guessing probability bounded by ``delta_1``
    by at most that many (``sum_L max_x q(x, L) <= |L| max_x q(x)``), so ``delta_1`` carries the
    factor ``floor(delta n) + 1``.
    """
    bell_bound = math.sqrt(delta + delta_az)
    bell_bound_up = math.nextafter(math.sqrt(math.nextafter(delta + delta_az, math.inf)), math.inf)
    good = runs - math.floor(math.nextafter(runs * bell_bound_up, math.inf))
    log2_count_values = math.log2(math.floor(delta * runs) + 1)
    lemma10 = bell_bound / min_setting_probability(eps)
    gamma = gamma_bound(lemma10)
    log2_gamma_power = good * math.log2(gamma) if gamma < 1 else 0.0
    log2_eps_az = 1.0 - delta_az**2 * runs / 4.0 * LOG2E
    return {"bell_bound": bell_bound, "good_positions": int(good), "mu": 1.0 - bell_bound,
            "lemma10_bell_sum": lemma10, "gamma": gamma,
            "gamma_paper": min(1.0, (1.0 + 2.0 * lemma10) / 3.0),
            "log2_gamma_power": log2_gamma_power, "log2_eps_az": log2_eps_az,
            "log2_bell_count_values": log2_count_values,
            "log2_delta1": log2_sum(max(log2_eps_az, log2_gamma_power), log2_eps_az) + log2_count_values}


def best_entropy_threshold(log2_delta1: float, x_length: int, t_length: int, t_entropy: float,
                            output_bits: int, extractor: TwoSourceExtractorModel
                            ) -> tuple[int, float, float]:
    """Integer ``k`` minimising ``e_ext(k) + 2 delta_1 2**k``; returns (k, log2 e_ext, log2 markov)."""

    def terms(k: int) -> tuple[float, float]:
        return (extractor.log2_error(x_length, k, t_length, t_entropy, output_bits),
                1.0 + log2_delta1 + k)

    upper = max(0, min(x_length, math.floor(-log2_delta1)))
    low, high = 0, upper
    while low < high:  # smallest k where the Markov term is at least the extractor term
        middle = (low + high) // 2
        ext, markov = terms(middle)
        if markov >= ext:
            high = middle
        else:
            low = middle + 1
    candidates = {max(0, low - 1), low, min(upper, low + 1)}
    scored = [(log2_sum(*terms(k)), k) for k in candidates]
    _, best = min(scored)
    ext, markov = terms(best)
    return best, ext, markov


def optimise_delta_az(build, span: float,
                       score: Callable[[Log2ErrorBound], float] | None = None):
    """Log-spaced scan of ``delta_Az`` in ``(0, span)``, then golden-section refinement of
    ``score(certificate)`` (default: ``log2_error_bound``)."""
    if score is None:
        score = _log2_error_bound
    if span <= 0:
        return build(1e-12)  # no delta_Az gives gamma < 1: the certificate reports failure
    grid = span * np.logspace(-6, 0, 25, endpoint=False)
    scored = [(build(float(v)), float(v)) for v in grid]
    index = min(range(len(scored)), key=lambda i: score(scored[i][0]))
    low = grid[max(index - 1, 0)] if index > 0 else grid[0] / 2
    high = grid[index + 1] if index + 1 < len(grid) else span * (1 - 1e-9)
    best = scored[index][0]
    ratio = (math.sqrt(5) - 1) / 2
    a, b = math.log(low), math.log(high)
    for _ in range(20):
        c, d = b - ratio * (b - a), a + ratio * (b - a)
        fc, fd = build(math.exp(c)), build(math.exp(d))
        for candidate in (fc, fd):
            if score(candidate) < score(best):
                best = candidate
        if score(fc) <= score(fd):
            b = d
        else:
            a = c
    return best


def _log2_error_bound(certificate: Log2ErrorBound) -> float:
    return certificate.log2_error_bound
