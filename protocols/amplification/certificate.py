"""Explicit finite-n certificate for Protocol I of paper 004 (Fig. 1, Theorem 20).

Every ``Omega()`` of Theorem 20 is replaced by a number. All logarithms are base 2 and the
tiny probabilities are carried as ``log2`` values (they underflow a float long before they
stop mattering). For ``n`` runs, SV parameter ``eps``, acceptance threshold ``delta`` on
``L_n`` (eq. (64)) and ``m`` output bits, with free parameters ``delta_Az > 0`` and ``k``:

1. Azuma (Lemma 7, eq. (26)) plus Markov over ``(z, u, e)`` (Lemma 18, eq. (90) and the proof
   of Prop. 19): ``eps_Az = 2 exp(-delta_Az**2 n / 4)``.
2. Lemma 9 with ``L-bar_n <= delta + delta_Az`` (eq. (99)): at least
   ``g = n - floor(n b)`` positions have conditional SV-Bell value ``<= b = sqrt(delta + delta_Az)``
   (the paper writes ``mu n`` with ``mu = 1 - b``; ``g >= mu n`` is the integer count).
3. Lemma 10 (eqs. (38)-(40)): each such box has Bell sum ``B.P <= b / (1/2 - eps)**4``; Lemma 11
   then bounds every output probability by ``gamma``. We use the LP maximum solved at run time
   (:func:`protocols.bell.four_party.lemma11_bound`, never above the paper's ``(1 + 2 d)/3``).
4. Lemma 12 (eq. (47)): on the good set, ``q(x|z,u,e) <= gamma**g``; Lemma 18 (eq. (93)) and
   the proof of Prop. 19 (eqs. (108)-(110)) give
   ``E_{(z,u,e)|ACC} max_x q(x|z,u,e,ACC) <= delta_1 / q(ACC)`` with
   ``delta_1 = max(eps_Az, gamma**g) + eps_Az`` (the paper's eq. (105) rounds this up to
   ``gamma**(mu n) + 2 eps_Az``). Every report publishes the Bell-test count ``n L_n``, which
   takes one of ``floor(delta n) + 1`` values on acceptance; knowing it can raise the guessing
   probability by at most that factor, so ``delta_1`` is multiplied by ``floor(delta n) + 1``
   (a term the paper does not need because it publishes only accept/abort).
5. Theorem 20's proof (eqs. (113)-(122)) with a free Markov threshold: ``(z,u,e)`` is good when
   ``max_x q(x|z,u,e,ACC) <= 2**-k``; Markov gives ``q(bad|ACC) <= delta_1 2**k / q(ACC)``.
   On good triples ``x`` has min-entropy ``>= k``; ``t`` (``l_t`` further SV bits, eq. (118))
   has min-entropy ``l_t log2(1/(1/2 + eps))`` and is independent of ``x`` (eq. (117)), so the
   two-source extractor's L1 error ``e_ext`` applies. Hence
   ``d q(ACC) <= e_ext + 2 delta_1 2**k`` (bad triples contribute at most 2 each).
   The paper fixes ``k = -log2(eta)/2`` with ``eta = sqrt(delta_1)`` and splits on
   ``q(ACC) <= eta``; its eq. (121) writes ``2 sqrt(eta)/eta``, which cannot be small - the
   correct term from eq. (114) is ``2 sqrt(eta)`` (no division, (114) is already conditioned
   on ACC). Our free threshold gives ``2 delta_1**(3/4)`` at the paper's choice, and the
   optimiser picks a better ``k``.
6. Prop. 16 (eq. (86)) and Rem. 21: ``d_comp p(ACC) <= 2**m (e_ext + 2 delta_1 2**k)``,
   where ``d_comp`` is the composable distance of eq. (66) (an L1 sum, no factor 1/2).

The paper's extractor (Lemma 5 (i)) is non-explicit; the certificate takes an explicit
:class:`TwoSourceExtractorModel` and carries its exact L1 error.

Steps 1-4 and the optimisers of ``k`` and ``delta_Az`` are shared with Protocol II and live in
:mod:`protocols.amplification.paper_device_terms`; checks and searches over ``n`` and ``m`` in
:mod:`protocols.amplification.certificate_base`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from extractors.models import TwoSourceExtractorModel
from protocols.amplification.certificate_base import (MAX_PLANNED_RUNS, CertificateInputError,
                                                      check_error, check_output_bits, check_runs,
                                                      largest_meeting_output, log2_sum,
                                                      min_setting_probability,
                                                      smallest_meeting_runs,
                                                      sv_min_entropy_per_bit)
from protocols.amplification.paper_device_terms import (DeviceTerms, best_entropy_threshold,
                                                        gamma_terms, largest_bell_bound,
                                                        optimise_delta_az)
from protocols.bell.four_party import check_delta, lemma11_bound
from qdevices.sources import check_sv_eps as check_eps


@dataclass(frozen=True)
class ProtocolICertificate(DeviceTerms):
    """Every intermediate number of the Protocol I certificate (see the module docstring)."""


def certify_protocol1(runs: int, eps: float, delta: float, output_bits: int,
                      extractor: TwoSourceExtractorModel, delta_az: float | None = None
                      ) -> ProtocolICertificate:
    """Certificate for Protocol I with the free parameters optimised (or ``delta_az`` fixed)."""
    runs, eps, delta = check_runs(runs), check_eps(eps), check_delta(delta)
    output_bits = check_output_bits(output_bits)
    x_length = 4 * runs
    t_length = extractor.t_length(x_length)
    t_entropy = t_length * sv_min_entropy_per_bit(eps)

    def build(delta_az_value: float) -> ProtocolICertificate:
        g = gamma_terms(runs, eps, delta, delta_az_value)
        k, log2_ext, log2_markov = best_entropy_threshold(
            g["log2_delta1"], x_length, t_length, t_entropy, output_bits, extractor)
        log2_d = log2_sum(log2_ext, log2_markov)
        return ProtocolICertificate(
            runs=runs, eps=eps, delta=delta, output_bits=output_bits, delta_az=delta_az_value, **g,
            x_length=x_length, x_min_entropy=k,
            t_length=t_length, t_min_entropy=t_entropy, extractor=extractor.name,
            log2_extractor_error=log2_ext, log2_markov_term=log2_markov,
            log2_d_times_acceptance=log2_d, log2_error_bound=output_bits + log2_d)

    if delta_az is not None:
        if not (np.isfinite(delta_az) and delta_az > 0):
            raise CertificateInputError(f"delta_az must be a finite number > 0, got {delta_az}")
        return build(float(delta_az))
    return optimise_delta_az(build, largest_bell_bound(eps) - delta)


@dataclass(frozen=True)
class Plan:
    """The planner's answer: the smallest ``n`` whose certificate meets ``error`` for ``m`` bits.

    ``required_runs`` is ``None`` when no ``n <= MAX_PLANNED_RUNS`` certifies the request;
    ``certificate`` is then the one at ``MAX_PLANNED_RUNS`` and ``reason`` says why.
    """

    output_bits: int
    error: float
    eps: float
    delta: float
    required_runs: int | None
    certificate: ProtocolICertificate
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {"output_bits": self.output_bits, "error": self.error, "eps": self.eps,
                "delta": self.delta, "required_runs": self.required_runs,
                "reason": self.reason, "certificate": self.certificate.to_dict()}


def failure_reason(certificate: ProtocolICertificate, error: float) -> str:
    """Which term of the certificate stops it from meeting ``error`` (empty when it meets it)."""
    if certificate.meets(error):
        return ""
    limit = largest_bell_bound(certificate.eps)
    if certificate.gamma >= 1.0 and certificate.delta >= limit:
        return (f"delta = {certificate.delta:.3g} is too large: Lemma 10 gives Bell sum bound >= 2 for "
                f"every delta_Az, so Lemma 11 certifies no randomness (need delta < 4 (1/2 - eps)^8 = "
                f"{limit:.3g})")
    if certificate.gamma >= 1.0 or certificate.x_min_entropy == 0:
        span = limit - certificate.delta
        return (f"n = {certificate.runs} runs are too few: every delta_Az < 4 (1/2 - eps)^8 - delta = "
                f"{span:.3g} leaves the Azuma term 2 exp(-delta_Az^2 n / 4) >= "
                f"{2 * math.exp(-span**2 * certificate.runs / 4):.3g}, so x has no certified min-entropy")
    budget = math.log2(error) - certificate.output_bits
    if certificate.log2_extractor_error > budget:
        return (f"extractor {certificate.extractor}: error 2^{certificate.log2_extractor_error:.1f}"
                f" with x min-entropy {certificate.x_min_entropy} of {certificate.x_length} bits "
                f"and t min-entropy {certificate.t_min_entropy:.1f} of {certificate.t_length} bits"
                f" exceeds 2^{budget:.1f} = error / 2^m; entropy surplus k_x + k_t - L_t = "
                f"{certificate.x_min_entropy + certificate.t_min_entropy - certificate.t_length:.4g}"
                " bits (the t source loses log2(1 + 2 eps) bits per bit)")
    return (f"Azuma/Lemma 12 term 2^{certificate.log2_markov_term:.1f} exceeds "
            f"2^{budget:.1f} = error / 2^m")


def plan_protocol1(output_bits: int, error: float, eps: float, delta: float,
                   extractor: TwoSourceExtractorModel) -> Plan:
    """Smallest ``n`` certifying ``output_bits`` at ``d_comp p(ACC) <= error`` (no devices run).

    Bisection on ``n`` in ``[1, MAX_PLANNED_RUNS]``; the returned ``n`` is re-certified, so the
    answer never relies on the certificate being monotone in ``n``.
    """
    output_bits, error = check_output_bits(output_bits), check_error(error)
    eps, delta = check_eps(eps), check_delta(delta)

    def certificate(runs: int) -> ProtocolICertificate:
        return certify_protocol1(runs, eps, delta, output_bits, extractor)

    largest = certificate(MAX_PLANNED_RUNS)
    if not largest.meets(error):
        return Plan(output_bits, error, eps, delta, None, largest,
                    f"not certifiable with n <= {MAX_PLANNED_RUNS:.0e}: "
                    + failure_reason(largest, error))
    runs = smallest_meeting_runs(lambda n: certificate(n).meets(error))
    return Plan(output_bits, error, eps, delta, runs, certificate(runs), "")


def largest_certified_output(runs: int, error: float, eps: float, delta: float,
                             extractor: TwoSourceExtractorModel
                             ) -> tuple[int, ProtocolICertificate]:
    """Largest ``m`` whose certificate at ``runs`` meets ``error`` (``0`` and the ``m = 1``
    certificate when none does). The bound grows with ``m`` (factor ``2**m``, eq. (86))."""
    error = check_error(error)
    return largest_meeting_output(
        lambda bits: certify_protocol1(runs, eps, delta, bits, extractor), error,
        4 * check_runs(runs))


def paper_tradeoff_delta(eps: float) -> float:
    """Fig. 6 / eq. (111): the largest delta with ``(1/3)(1 + 2 sqrt(2 delta)/(1/2 - eps)**4) < 1``,
    i.e. ``delta < (1/2 - eps)**8 / 2`` (supremum; Theorem 20 takes ``delta_Az <= delta``)."""
    return min_setting_probability(check_eps(eps)) ** 2 / 2.0


@lru_cache(maxsize=8)
def lp_bell_sum_threshold(tolerance: float = 1e-6) -> float:
    """Largest Bell-sum bound ``d`` whose Lemma 11 LP maximum is below 1 (bisection on the LP,
    monotone in ``d``); returned rounded down to ``tolerance``."""
    low, high = 0.0, 4.0
    while high - low > tolerance:
        middle = (low + high) / 2
        if lemma11_bound(middle).max_probability < 1.0 - 1e-9:
            low = middle
        else:
            high = middle
    return low


def lp_tradeoff_delta(eps: float) -> float:
    """Eq. (111) with the run-time LP in place of eq. (42): ``sqrt(2 delta)/(1/2 - eps)**4 < d*``
    with ``d* =`` :func:`lp_bell_sum_threshold`, i.e. ``delta < (d* (1/2 - eps)**4)**2 / 2``."""
    return (lp_bell_sum_threshold() * min_setting_probability(check_eps(eps))) ** 2 / 2.0
