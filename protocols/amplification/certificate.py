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

Optimiser: for fixed ``(n, eps, delta, m)``, ``k`` is chosen by bisection on the balance of the
two terms of step 5 (one decreasing, one increasing in ``k``) and checking the neighbours;
``delta_Az`` by a log-spaced scan over ``(0, delta_max)`` followed by golden-section refinement,
where ``delta_max`` is the largest value with ``gamma < 1``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Protocol, TypeVar

import numpy as np

from protocols.bell.four_party import check_delta, lemma11_bound
from qdevices.sources import check_sv_eps as check_eps

LOG2E = math.log2(math.e)
LP_GRID = 2**-12
"""Lemma 11 is evaluated at the Bell-sum bound rounded *up* to this grid: the LP maximum is
non-decreasing in the bound, so the rounded value is still an upper bound."""


class CertificateInputError(ValueError):
    """Bad parameter for an amplification certificate."""


class TwoSourceExtractorModel(Protocol):
    """An explicit two-source extractor as the certificate sees it."""

    name: str

    def t_length(self, x_length: int) -> int:
        """Number of SV bits ``t`` the extractor takes alongside ``x_length`` device bits."""

    def log2_error(self, x_length: int, x_entropy: float, t_length: int, t_entropy: float,
                   output_bits: int) -> float:
        """log2 of the L1 distance from uniform of the output (``+inf`` if inapplicable)."""

    def extract(self, x: np.ndarray, t: np.ndarray, output_bits: int) -> np.ndarray:
        """The ``output_bits`` output bits (0/1 ``uint8``) from device bits ``x`` and SV bits ``t``."""


def check_runs(runs: int, name: str = "runs") -> int:
    if int(runs) != runs or runs < 1:
        raise CertificateInputError(f"{name} must be an integer >= 1, got {runs}")
    return int(runs)


def check_output_bits(bits: int) -> int:
    return check_runs(bits, "output bits")


def _log2_sum(*log_terms: float) -> float:
    """log2(sum 2**a_i), stable for very negative a_i."""
    finite = [a for a in log_terms if a != -math.inf]
    if not finite:
        return -math.inf
    top = max(finite)
    return top + math.log2(sum(2.0 ** (a - top) for a in finite))


def gamma_bound(bell_sum_bound: float) -> float:
    """Lemma 11 bound used in certificates, at the bound rounded up to :data:`LP_GRID`."""
    rounded = math.ceil(bell_sum_bound / LP_GRID) * LP_GRID
    if rounded >= 2.0:  # local boxes reach Bell sum 2 with deterministic outputs
        return 1.0
    return lemma11_bound(rounded).certified


def sv_min_entropy_per_bit(eps: float) -> float:
    """Min-entropy of each SV bit given the past: ``-log2(1/2 + eps)`` (eq. (1))."""
    return -math.log2(0.5 + eps)


def min_setting_probability(eps: float) -> float:
    """Smallest probability of any of the 16 settings: ``(1/2 - eps)**4`` (eq. (39))."""
    return (0.5 - eps) ** 4


def largest_bell_bound(eps: float) -> float:
    """Largest ``delta + delta_Az`` for which the certificate can have ``gamma < 1``.

    ``gamma < 1`` needs the Lemma 10 Bell-sum bound ``sqrt(delta + delta_Az) / (1/2 - eps)**4``
    below 2 (local deterministic boxes reach 2): ``delta + delta_Az < 4 (1/2 - eps)**8``.
    """
    return (2.0 * min_setting_probability(eps)) ** 2


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


@dataclass(frozen=True)
class DeviceTerms(Log2ErrorBound):
    """The quantities of steps 1-6 (module docstring) that Protocols I and II share.

    ``delta_az`` .. ``log2_delta1`` are per device (returned by :func:`_gamma_terms`); the fields
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


@dataclass(frozen=True)
class ProtocolICertificate(DeviceTerms):
    """Every intermediate number of the Protocol I certificate (see the module docstring)."""


def _gamma_terms(runs: int, eps: float, delta: float, delta_az: float) -> dict[str, float]:
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
            "log2_delta1": _log2_sum(max(log2_eps_az, log2_gamma_power), log2_eps_az) + log2_count_values}


def _best_entropy_threshold(log2_delta1: float, x_length: int, t_length: int, t_entropy: float,
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
    scored = [(_log2_sum(*terms(k)), k) for k in candidates]
    _, best = min(scored)
    ext, markov = terms(best)
    return best, ext, markov


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
        g = _gamma_terms(runs, eps, delta, delta_az_value)
        k, log2_ext, log2_markov = _best_entropy_threshold(
            g["log2_delta1"], x_length, t_length, t_entropy, output_bits, extractor)
        log2_d = _log2_sum(log2_ext, log2_markov)
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
    return _optimise_delta_az(build, largest_bell_bound(eps) - delta)


def _optimise_delta_az(build, span: float,
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


MAX_PLANNED_RUNS = 10**12
"""The planner searches ``n`` up to this; beyond it a request is reported as not certifiable."""


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


def check_error(error: float) -> float:
    if not (np.isfinite(error) and 0.0 < error < 2.0):
        raise CertificateInputError(f"error must be in (0, 2), got {error}")
    return float(error)


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


def largest_certified_output(runs: int, error: float, eps: float, delta: float,
                             extractor: TwoSourceExtractorModel
                             ) -> tuple[int, ProtocolICertificate]:
    """Largest ``m`` whose certificate at ``runs`` meets ``error`` (``0`` and the ``m = 1``
    certificate when none does). The bound grows with ``m`` (factor ``2**m``, eq. (86))."""
    error = check_error(error)
    return largest_meeting_output(
        lambda bits: certify_protocol1(runs, eps, delta, bits, extractor), error,
        4 * check_runs(runs))


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
