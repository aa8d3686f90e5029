"""Calibration of a four-party device before Protocol I: the Bell value it will show, and from it
the acceptance threshold ``delta`` and the number of runs ``n`` (issue 10, item 5).

``delta`` is a completeness choice, not a security parameter: the certificate (improved chain,
:mod:`protocols.amplification.improved_certificate`) holds for every ``delta`` fixed before the
runs. So the calibration may use anything except the protocol's own data:

* ``"exact distribution"``: the device's exact outcome table ``P[u, x]`` (``backend="exact"`` or
  ``"fake-exact:NAME"``: the backend's noise model, :mod:`qdevices.noisy_exact`);
* ``"separate runs"`` (shot backends, ``fake:NAME``, hardware): ``r`` runs of each of the 16
  settings on the device, before and apart from the protocol's runs; each per-setting violation
  probability is then raised to its one-sided Chernoff (relative-entropy) upper bound: the
  largest ``p >= p_hat`` with ``r D(p_hat || p) <= ln(16/a)`` (``P(p_hat <= k/r) <= exp(-r D(k/r||p))``
  for ``k/r <= p``; ``a = CALIBRATION_CONFIDENCE``, split over the 16 settings), solved by
  ``scipy.optimize.brentq``.

From the per-setting violation probabilities ``b(u) = sum_x B(x, u) P(x|u)`` the largest expected
Bell indicator under any eps-SV law of the 4 setting bits, ``beta = max_nu sum_u nu(u) b(u)``, is
exact by backward recursion over the bits (each bit's conditional probability at a vertex
``1/2 +- eps``; the maximum of a linear function over the SV polytope is at a vertex). Then
``delta = beta + sqrt(2 beta ln(1/a) / n0) + ln(1/a) / n0`` (Bernstein's inequality for ``n0``
independent Bernoulli(<= beta) indicators: ``P(L_n > delta) <= a``), with ``n0`` the planned ``n``
at ``delta = beta``; the plan at this ``delta`` has ``n >= n0`` runs, and more runs only shrink
the deviation, so an honest device is rejected with probability at most ``a``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.optimize import brentq
from scipy.special import rel_entr

from protocols.amplification.improved_certificate import ImprovedPlan, plan_protocol1_improved
from protocols.bell.four_party import bell_indicator
from qdevices.sources import check_sv_eps as check_eps

CALIBRATION_CONFIDENCE = 1e-3
"""``a``: the calibration's upper bounds and the completeness margin of ``delta`` each fail with
probability at most this (an honest device is then rejected, never a security failure)."""
DEFAULT_CALIBRATION_RUNS = 4000
"""Runs of each of the 16 settings in a ``"separate runs"`` calibration."""
ALL_SETTINGS = np.array([[(s >> (3 - k)) & 1 for k in range(4)] for s in range(16)],
                        dtype=np.uint8)
"""The 16 settings ``(u1, u2, u3, u4)``, row ``s`` = binary digits of ``s``, ``u1`` first."""


@dataclass(frozen=True)
class Calibration:
    """Per-setting violation probabilities (rows of :data:`ALL_SETTINGS`; upper bounds from
    separate runs, ``per_setting_estimate`` the observed frequencies), how they were obtained,
    and the largest expected Bell indicator ``beta`` under eps-SV settings."""

    method: str
    calibration_runs: int
    per_setting_violation: tuple[float, ...]
    per_setting_estimate: tuple[float, ...]
    uniform_bell_average: float
    uniform_bell_estimate: float
    sv_eps: float
    worst_sv_bell_average: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _worst_sv_average(per_setting: np.ndarray, eps: float) -> float:
    """``max_nu sum_u nu(u) b(u)`` over eps-SV laws of ``u1..u4`` (``u1`` drawn first)."""
    values = np.asarray(per_setting, dtype=np.float64).reshape(2, 2, 2, 2)
    for _ in range(4):  # the last-drawn bit is the last axis
        zero, one = values[..., 0], values[..., 1]
        values = np.maximum((0.5 + eps) * zero + (0.5 - eps) * one,
                            (0.5 - eps) * zero + (0.5 + eps) * one)
    return float(values)


def _chernoff_upper(frequency: float, runs: int, log_inverse: float) -> float:
    """Largest ``p >= frequency`` with ``runs D(frequency || p) <= log_inverse`` (in nats)."""
    def excess(p: float) -> float:
        return runs * float(rel_entr(frequency, p) + rel_entr(1.0 - frequency, 1.0 - p)) - log_inverse

    top = 1.0 - 1e-15
    if excess(top) <= 0:
        return 1.0
    return min(1.0, math.nextafter(brentq(excess, frequency, top, xtol=1e-14), math.inf))


def _exact_violations(device: Any) -> np.ndarray:
    table = device.outcome_table()  # P[setting index, code]
    codes = np.arange(table.shape[1])
    outputs = device.decode(codes)
    probabilities = table[device.setting_index(ALL_SETTINGS)]  # (16 settings, codes)
    indicator = np.stack([bell_indicator(outputs, np.repeat(u[None, :], codes.size, axis=0))
                          for u in ALL_SETTINGS])
    return (probabilities * indicator).sum(axis=1)


def _measured_frequencies(device: Any, runs_per_setting: int) -> np.ndarray:
    settings = np.repeat(ALL_SETTINGS, runs_per_setting, axis=0)
    outputs = np.asarray(device.measure(settings), dtype=np.uint8)
    counts = bell_indicator(outputs, settings).reshape(16, runs_per_setting).sum(axis=1)
    return counts / runs_per_setting


def has_exact_distribution(device: Any) -> bool:
    """Whether ``device`` has an exact outcome table (exact or fake-exact backend)."""
    from qdevices.execution import ExactExecution

    return isinstance(getattr(device, "execution", None), ExactExecution)


def calibrate(device: Any, sv_eps: float, runs_per_setting: int = DEFAULT_CALIBRATION_RUNS
              ) -> Calibration:
    """The device's Bell value from its exact distribution when it has one, else from
    ``runs_per_setting`` separate runs of each setting (module docstring)."""
    eps = check_eps(sv_eps)
    if has_exact_distribution(device):
        estimate = per_setting = _exact_violations(device)
        method, runs = "exact distribution", 0
    else:
        runs_per_setting = int(runs_per_setting)
        estimate = _measured_frequencies(device, runs_per_setting)
        log_inverse = math.log(len(ALL_SETTINGS) / CALIBRATION_CONFIDENCE)
        per_setting = np.array([_chernoff_upper(float(f), runs_per_setting, log_inverse)
                                for f in estimate])
        method = "separate runs (Chernoff upper bound per setting)"
        runs = len(ALL_SETTINGS) * runs_per_setting
    return Calibration(method=method, calibration_runs=runs,
                       per_setting_violation=tuple(float(p) for p in per_setting),
                       per_setting_estimate=tuple(float(p) for p in estimate),
                       uniform_bell_average=float(np.mean(per_setting)),
                       uniform_bell_estimate=float(np.mean(estimate)), sv_eps=eps,
                       worst_sv_bell_average=_worst_sv_average(per_setting, eps))


def completeness_delta(beta: float, runs: int) -> float:
    """``beta + sqrt(2 beta ln(1/a) / n) + ln(1/a) / n`` (Bernstein; module docstring)."""
    log_inverse = math.log(1.0 / CALIBRATION_CONFIDENCE)
    return beta + math.sqrt(2.0 * beta * log_inverse / runs) + log_inverse / runs


@dataclass(frozen=True)
class CalibratedPlan:
    """The calibration, the ``delta`` it fixes, and the improved-chain plan at that ``delta``."""

    calibration: Calibration
    delta: float
    plan: ImprovedPlan

    def to_dict(self) -> dict[str, Any]:
        """The calibration's fields, the ``delta`` it fixes, and the planned ``n``, bits and
        extractor (the plan's certificate is the run's own, reported with the run)."""
        return {**self.calibration.to_dict(), "delta": self.delta,
                "completeness_failure": CALIBRATION_CONFIDENCE,
                "planned_runs": self.plan.required_runs, "planned_bits": self.plan.output_bits,
                "planned_extractor": self.plan.extractor}


def plan_from_calibration(calibration: Calibration, output_bits: int, error: float
                          ) -> CalibratedPlan:
    """``delta`` and ``n`` from a calibration (module docstring), before any protocol run."""
    beta, eps = calibration.worst_sv_bell_average, calibration.sv_eps
    first = plan_protocol1_improved(output_bits, error, eps, beta)
    if first.required_runs is None:
        return CalibratedPlan(calibration, beta, first)
    delta = completeness_delta(beta, first.required_runs)
    return CalibratedPlan(calibration, delta, plan_protocol1_improved(output_bits, error, eps, delta))
