"""Plumbing shared by every amplification certificate (paper chain, improved chain; Protocols I
and II): input checks, the ``log2`` error-bound mixin, and the searches over ``n`` and ``m``.

All certificates carry ``log2`` of their bound on ``d_comp p(ACC)`` (paper 004 eqs. (66), (112),
(181)); the searches only compare that number with ``log2(error)``, so they never round it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict
from typing import TypeVar

import numpy as np

MAX_PLANNED_RUNS = 10**12
"""The planner searches ``n`` up to this; beyond it a request is reported as not certifiable."""


class CertificateInputError(ValueError):
    """Bad parameter for an amplification certificate."""


def check_runs(runs: int, name: str = "runs") -> int:
    """``runs`` (or the quantity ``name``) must be an integer >= 1."""
    if int(runs) != runs or runs < 1:
        raise CertificateInputError(f"{name} must be an integer >= 1, got {runs}")
    return int(runs)


def check_output_bits(bits: int) -> int:
    """The number of output bits ``m`` must be an integer >= 1."""
    return check_runs(bits, "output bits")


def check_error(error: float) -> float:
    """The required bound on ``d_comp p(ACC)`` must be in ``(0, 2)`` (an L1 distance)."""
    if not (np.isfinite(error) and 0.0 < error < 2.0):
        raise CertificateInputError(f"error must be in (0, 2), got {error}")
    return float(error)


def log2_sum(*log_terms: float) -> float:
    """``log2(sum_i 2**a_i)`` by ``np.logaddexp2`` (stable for very negative ``a_i``; ``-inf``
    terms contribute nothing)."""
    return float(np.logaddexp2.reduce(np.asarray(log_terms, dtype=np.float64)))

class Log2ErrorBound:
    """Methods shared by certificates that carry ``log2_error_bound`` (Protocols I and II)."""

    log2_error_bound: float

    @property
    def error_bound(self) -> float:
        """Upper bound on ``d_comp * p(ACC)`` (eqs. (66), (112), (181)); rounded up, capped at 2."""
        return min(2.0, 2.0 ** self.log2_error_bound) if self.log2_error_bound < 1024 else 2.0

    def meets(self, error: float) -> bool:
        return self.log2_error_bound <= math.log2(error)

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)  # type: ignore[call-overload]
        data["error_bound"] = self.error_bound
        return data


def smallest_meeting_runs(meets: Callable[[int], bool], largest: int = MAX_PLANNED_RUNS) -> int:
    """Bisection for the smallest ``n`` in ``[1, largest]`` with ``meets(n)``, given
    ``meets(largest)``: geometric steps while the bracket spans more than a factor 4, then
    arithmetic ones, to a relative resolution of 1e-4 of ``n`` (the answer satisfies ``meets``)."""
    low, high = 1, largest
    if meets(low):
        return low
    while high - low > max(1, low // 10**4):
        middle = math.isqrt(low * high) if high > 4 * low else (low + high) // 2
        if meets(middle):
            high = middle
        else:
            low = middle
    return high


Certificate = TypeVar("Certificate", bound=Log2ErrorBound)


def largest_meeting_output(certify: Callable[[int], Certificate], error: float,
                           most_bits: int) -> tuple[int, Certificate]:
    """Largest ``m <= most_bits`` whose certificate ``certify(m)`` meets ``error`` (``0`` and the
    ``m = 1`` certificate when none does), by bisection: the bound grows with ``m``."""
    low_certificate = certify(1)
    if not low_certificate.meets(error):
        return 0, low_certificate
    low, high = 1, most_bits + 1
    best = low_certificate
    while high - low > 1:
        middle = (low + high) // 2
        candidate = certify(middle)
        if candidate.meets(error):
            low, best = middle, candidate
        else:
            high = middle
    return low, best


def sv_min_entropy_per_bit(eps: float) -> float:
    """Min-entropy of each SV bit given the past: ``-log2(1/2 + eps)`` (eq. (1))."""
    return -math.log2(0.5 + eps)


def min_setting_probability(eps: float) -> float:
    """Smallest probability of any of the 16 settings: ``(1/2 - eps)**4`` (eq. (39))."""
    return (0.5 - eps) ** 4
