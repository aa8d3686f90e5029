"""Improved finite-n certificate for Protocol I of paper 004 (derivation:
``docs/amplification_improved_certificate.md``).

For ``n`` runs, SV parameter ``eps``, threshold ``delta`` on ``L_n`` (eq. (64)), ``m`` output bits,
``c = (1/2 - eps)**4`` (eq. (39)) and a free parameter ``s in (0, 2c - delta)``:

* (i) LP identity ``3 P(x*|u*) - B.P <= 1`` over no-signalling boxes, Lemma 10 and Jensen:
  on ``Lbar_n <= delta + s``, ``q(x|z,u,e) <= 2**-G`` with ``G = n f(delta + s)``,
  ``f(b) = max(0, log2(3 / (1 + b/c)))``;
* (ii) martingale Chernoff bound: ``P(L_n <= j/n, Lbar_n > delta + s) <= exp(-n D(j/n || delta + s))``
  (binary relative entropy ``D`` in nats);
* (iii) smoothing: ``d_comp p(ACC) <= 2**m [sqrt(C) E(G) + 2 sum_{j=0}^{floor(delta n)}
  exp(-n D(j/n || delta + s))]`` with ``C = floor(delta n) + 1`` and the cyclic-shift L1 error at
  collision entropy ``E(G) = 2**((m + 1 + L log2(1 + 4 eps**2) - G)/2)``, ``L = next_cyclic_length(4n)``,
  or (``extractor="polynomial-hash"``, short seed of ``2b`` SV bits, ``b`` minimising ``E``)
  ``E(G) = (1 + 4 eps**2)**b 2**(m/2) sqrt(2**-G + (ceil(4n/b) - 1) 2**-b)``
  (:mod:`extractors.polynomial_hash`; docs, section "Short-seed extractor").

Assumptions: A1/A2 of paper 004 and the time-ordered no-signalling among the four components
and Eve used in eq. (82) and Lemma 18 (:data:`ASSUMPTIONS`). ``s`` is optimised by
``scipy.optimize.minimize_scalar`` (bounded) and the bound is then evaluated at the ``s`` found;
the bound is valid for every ``s``, so the optimiser cannot make it unsafe.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import rel_entr

from extractors.models import CyclicShiftExtractor, PolynomialHashExtractor, cyclic_length
from protocols.amplification.certificate_base import (MAX_PLANNED_RUNS, CertificateInputError,
                                                      Log2ErrorBound, check_error,
                                                      check_output_bits, check_runs,
                                                      min_setting_probability,
                                                      smallest_meeting_runs)
from protocols.bell.four_party import check_delta
from qdevices.sources import check_sv_eps as check_eps

LOG2E = math.log2(math.e)
THEOREM = "bellbox improved chain (docs/amplification_improved_certificate.md)"
ADVERSARY = "no-signaling"
EXTRACTOR = "cyclic-shift (Dodis et al. 2004, collision-entropy bound)"
SHORT_SEED_EXTRACTOR = "polynomial-hash (GF(2^b), 2b-bit SV seed, weak-seed leftover hash bound)"
EXTRACTORS = ("cyclic-shift", "polynomial-hash")
"""Extractor choices: ``"cyclic-shift"`` (seed ``t`` of ``L`` SV bits) or ``"polynomial-hash"``
(:mod:`extractors.polynomial_hash`, seed of ``2b`` SV bits, ``b`` chosen to minimise ``E``)."""
LOG2_ROUNDING_MARGIN = 1e-9
"""Added to the final ``log2`` bound: it exceeds the double-precision error of evaluating the
terms (magnitudes below ``1e4``, relative error ``~1e-15`` per operation), so rounding never
favours the user."""
ASSUMPTIONS = ("A1/A2 of paper 004 (eps-SV settings and seed, eqs. (57)-(59), (12)-(14))",
               "time-ordered no-signalling jointly among the four components and Eve "
               "(used in paper 004 eq. (82) and Lemma 18, not implied by its stated conditions)",
               "t independent of x given (z, u, e) (eq. (117))")


def per_run_entropy(bell_bound: float, eps: float) -> float:
    """``f(b) = max(0, log2 3 - log2(1 + b / (1/2 - eps)**4))``: convex, non-increasing in ``b``."""
    return max(0.0, math.log2(3.0) - math.log2(1.0 + bell_bound / min_setting_probability(eps)))


def binary_kl_nats(p: float | np.ndarray, q: float) -> np.ndarray:
    """Binary relative entropy ``D(p || q) = p ln(p/q) + (1-p) ln((1-p)/(1-q))`` in nats."""
    p = np.asarray(p, dtype=np.float64)
    return rel_entr(p, q) + rel_entr(1.0 - p, 1.0 - q)


EXACT_COUNT_SUM = 2**16
"""Above this many count values the sum is bounded by ``C`` times its largest term, the one at
``j = floor(delta n)`` (``D(p || q)`` decreases in ``p`` on ``[0, q]``)."""


def log2_bad_term(runs: int, delta: float, threshold: float) -> float:
    """``log2(2 sum_{j=0}^{floor(delta n)} exp(-n D(j/n || threshold)))`` (steps (ii)-(iii)),
    for ``threshold > delta``; beyond :data:`EXACT_COUNT_SUM` terms, the upper bound
    ``log2(2 C) - n D(floor(delta n)/n || threshold) log2 e``."""
    top = math.floor(delta * runs)
    if top + 1 > EXACT_COUNT_SUM:
        return (1.0 + math.log2(top + 1)
                - runs * float(binary_kl_nats(top / runs, threshold)) * LOG2E)
    counts = np.arange(top + 1, dtype=np.float64)
    exponents = -runs * binary_kl_nats(counts / runs, threshold) * LOG2E
    return 1.0 + float(np.logaddexp2.reduce(exponents))


CYCLIC_SHIFT = CyclicShiftExtractor()
POLYNOMIAL_HASH = PolynomialHashExtractor()
log2_extractor_error = CYCLIC_SHIFT.log2_collision_error
"""log2 of the cyclic-shift L1 error ``(m + 1 + L log2(1 + 4 eps**2) - G)/2`` (``+inf`` when
``m > L - 1``): :meth:`extractors.models.CyclicShiftExtractor.log2_collision_error`."""
EXTRACTOR_MODELS = {EXTRACTOR: CYCLIC_SHIFT, SHORT_SEED_EXTRACTOR: POLYNOMIAL_HASH}
"""The extractor that runs, by the certificate's ``extractor`` field."""


@dataclass(frozen=True)
class ImprovedProtocolICertificate(Log2ErrorBound):
    """Every intermediate number of the improved chain (module docstring)."""

    runs: int
    eps: float
    delta: float
    output_bits: int
    s: float
    s_optimiser: str
    bell_bound: float
    min_setting_probability: float
    per_run_entropy: float
    x_length: int
    x_min_entropy: float
    t_length: int
    t_collision_entropy: float
    bell_count_values: int
    extractor: str
    log2_extractor_error: float
    log2_good_term: float
    log2_bad_term: float
    log2_d_times_acceptance: float
    log2_error_bound: float
    field_degree: int | None = None
    adversary_model: str = ADVERSARY
    theorem: str = THEOREM
    assumptions: tuple[str, ...] = ASSUMPTIONS


def _certificate(runs: int, eps: float, delta: float, output_bits: int, s: float,
                 optimiser: str, extractor: str = "cyclic-shift") -> ImprovedProtocolICertificate:
    threshold = delta + s
    per_run = per_run_entropy(threshold, eps)
    x_length = 4 * runs
    entropy = runs * per_run
    counts = math.floor(delta * runs) + 1
    if extractor == "polynomial-hash":
        hashing = POLYNOMIAL_HASH.parameters(x_length, entropy, eps, output_bits)
        log2_ext, length, degree = hashing.log2_l1_error, hashing.seed_bits, hashing.field_degree
        name = SHORT_SEED_EXTRACTOR
    else:
        length, degree, name = cyclic_length(x_length), None, EXTRACTOR
        log2_ext = log2_extractor_error(x_length, entropy, eps, output_bits)
    log2_good = 0.5 * math.log2(counts) + log2_ext
    log2_bad = log2_bad_term(runs, delta, threshold) if threshold < 1.0 else 1.0
    log2_d = float(np.logaddexp2(log2_good, log2_bad))
    return ImprovedProtocolICertificate(
        runs=runs, eps=eps, delta=delta, output_bits=output_bits, s=s, s_optimiser=optimiser,
        bell_bound=threshold, min_setting_probability=min_setting_probability(eps),
        per_run_entropy=per_run, x_length=x_length, x_min_entropy=entropy, t_length=length,
        t_collision_entropy=length * (1.0 - math.log2(1.0 + 4.0 * eps**2)),
        bell_count_values=counts, extractor=name, log2_extractor_error=log2_ext,
        log2_good_term=log2_good, log2_bad_term=log2_bad, log2_d_times_acceptance=log2_d,
        log2_error_bound=output_bits + log2_d + LOG2_ROUNDING_MARGIN, field_degree=degree)


def check_extractor(extractor: object) -> str:
    """``extractor`` must be one of :data:`EXTRACTORS`."""
    if extractor not in EXTRACTORS:
        raise CertificateInputError(f"extractor must be one of {EXTRACTORS}, got {extractor!r}")
    return str(extractor)


def certify_protocol1_improved(runs: int, eps: float, delta: float, output_bits: int,
                               s: float | None = None, extractor: str = "cyclic-shift"
                               ) -> ImprovedProtocolICertificate:
    """The improved certificate with ``extractor`` (:data:`EXTRACTORS`); ``s`` is optimised on
    ``(0, 2c - delta)`` unless given."""
    runs, eps, delta = check_runs(runs), check_eps(eps), check_delta(delta)
    output_bits, extractor = check_output_bits(output_bits), check_extractor(extractor)
    span = min(2.0 * min_setting_probability(eps), 1.0) - delta
    if s is not None:
        if not (np.isfinite(s) and s > 0):
            raise CertificateInputError(f"s must be a finite number > 0, got {s}")
        return _certificate(runs, eps, delta, output_bits, float(s), "fixed by caller", extractor)
    if span <= 0:  # f(delta + s) = 0 for every s: no min-entropy, the bound reports failure
        return _certificate(runs, eps, delta, output_bits, 1e-12, "none (delta >= 2 (1/2-eps)^4)",
                            extractor)
    low, high = span * 1e-9, span * (1.0 - 1e-9)

    def score(log_s: float) -> float:
        return _certificate(runs, eps, delta, output_bits, math.exp(log_s), "",
                            extractor).log2_error_bound

    result = minimize_scalar(score, bounds=(math.log(low), math.log(high)), method="bounded",
                             options={"xatol": 1e-6})
    candidates = [math.exp(float(result.x)), low, high]
    best = min(candidates, key=lambda value: score(math.log(value)))
    return _certificate(runs, eps, delta, output_bits, best,
                        "scipy minimize_scalar (bounded, log s) on (0, 2(1/2-eps)^4 - delta)",
                        extractor)


@dataclass(frozen=True)
class ImprovedPlan:
    """Smallest ``n`` whose improved certificate meets ``error`` (``None`` if none up to
    :data:`MAX_PLANNED_RUNS`, with ``reason``), over the extractors considered; ``extractor`` is
    the one chosen and ``runs_by_extractor`` each one's smallest ``n`` (``None``: none)."""

    output_bits: int
    error: float
    eps: float
    delta: float
    required_runs: int | None
    certificate: ImprovedProtocolICertificate
    reason: str
    extractor: str = "cyclic-shift"
    runs_by_extractor: tuple[tuple[str, int | None], ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {"output_bits": self.output_bits, "error": self.error, "eps": self.eps,
                "delta": self.delta, "required_runs": self.required_runs,
                "reason": self.reason, "certificate_chain": "improved",
                "extractor": self.extractor,
                "runs_by_extractor": dict(self.runs_by_extractor),
                "certificate": self.certificate.to_dict()}


def _plan_one(output_bits: int, error: float, eps: float, delta: float, extractor: str
              ) -> ImprovedPlan:
    def certificate(runs: int) -> ImprovedProtocolICertificate:
        return certify_protocol1_improved(runs, eps, delta, output_bits, extractor=extractor)

    largest = certificate(MAX_PLANNED_RUNS)
    if not largest.meets(error):
        reason = (f"not certifiable with n <= {MAX_PLANNED_RUNS:.0e}: "
                  + ("delta >= 2 (1/2 - eps)^4, no min-entropy"
                     if largest.per_run_entropy == 0 else
                     "the seed's collision-entropy deficit exceeds what G can pay"))
        return ImprovedPlan(output_bits, error, eps, delta, None, largest, reason, extractor)
    runs = smallest_meeting_runs(lambda n: certificate(n).meets(error))
    return ImprovedPlan(output_bits, error, eps, delta, runs, certificate(runs), "", extractor)


def plan_protocol1_improved(output_bits: int, error: float, eps: float, delta: float,
                            extractors: tuple[str, ...] = EXTRACTORS) -> ImprovedPlan:
    """Smallest ``n`` with ``d_comp p(ACC) <= error`` by :func:`smallest_meeting_runs`, for each of
    ``extractors`` (default: all of :data:`EXTRACTORS`); the plan is the one with the smallest
    ``n`` (ties: the first listed), and
    :func:`protocols.amplification.protocol1.run_protocol1` runs the extractor its certificate
    picks. The answer is re-certified, so it does not rely on monotonicity in ``n``."""
    output_bits, error = check_output_bits(output_bits), check_error(error)
    eps, delta = check_eps(eps), check_delta(delta)
    if not extractors:
        raise CertificateInputError(f"extractors must name at least one of {EXTRACTORS}, got ()")
    plans = [_plan_one(output_bits, error, eps, delta, check_extractor(name))
             for name in extractors]
    found = [plan for plan in plans if plan.required_runs is not None]
    chosen = min(found, key=lambda plan: plan.required_runs) if found else plans[0]
    runs_by = tuple((plan.extractor, plan.required_runs) for plan in plans)
    reason = chosen.reason if not found else ""
    return ImprovedPlan(output_bits, error, eps, delta, chosen.required_runs, chosen.certificate,
                        reason, chosen.extractor, runs_by)
