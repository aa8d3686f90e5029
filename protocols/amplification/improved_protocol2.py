"""Improved finite-n certificate for Protocol II of paper 004 (derivation:
``docs/amplification_protocol2_improved.md``).

SV bits are drawn in the order ``v^1..v^N2, u, j, t`` (device 2's blocks, device 1, block index,
seed; docs, Section 0). For ``n`` runs per block, ``N2 = 2**k`` blocks, SV parameter ``eps``,
threshold ``delta``, ``m`` output bits, ``c = (1/2 - eps)**4``, a free ``s in (0, 2c - delta)``,
``theta = delta + s``, ``G = n f(theta)`` (``f`` of the Protocol I chain,
:func:`protocols.amplification.improved_certificate.per_run_entropy`), ``C = floor(delta n) + 1``
and ``S = sum_{a < C} exp(-n D(a/n || theta))``:

* ``route="chain-rule"`` (docs, Sections 2-5): the pair ``x || y_j`` has min-entropy ``2G`` on the
  good event by the chain rule (no independence of the devices is needed); the block choice costs
  ``(1 + 2 eps)**k`` on device 2's bad term only:
  ``d_comp p(ACC) <= 2**m [C E(2G) + 2 C (1 + (1 + 2 eps)**k) S]``;
* ``route="de-finetti"`` (docs, Section 6; the paper's and issue 10's route, for extractors that
  need ``x`` and ``y_j`` independent): Lemma 13, ``eps_L13 = sqrt(2 ln2 * 4n * (1/2 + eps)**k)``
  (eq. (50)), and ``d_comp p(ACC) <= 2**m C**2 [C E(2G) + 4 (1 + 2 eps)**k S + 2 eps_L13]``.

``E(K)`` is the L1 error of the cyclic shift on ``(t, x || y_j)`` at collision entropy ``K``,
``2**((m + 1 + L log2(1 + 4 eps**2) - K)/2)``, ``L = next_cyclic_length(8n)``, or of the polynomial
hash (``extractor="polynomial-hash"``) on the ``8n`` bits. Adversary: no-signalling; assumptions:
:data:`ASSUMPTIONS`. ``s`` is optimised on a log grid, refined by bounded ``minimize_scalar``,
and the bound evaluated at the ``s`` found; the bound holds for every ``s``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar

from extractors.models import CyclicShiftExtractor, PolynomialHashExtractor
from extractors.polynomial_hash import polynomial_hash_parameters
from protocols.amplification.certificate_base import largest_meeting_output
from protocols.amplification.improved_certificate import (EXTRACTORS, LOG2_ROUNDING_MARGIN,
                                                          MAX_PLANNED_RUNS, SHORT_SEED_EXTRACTOR,
                                                          CertificateInputError, Log2ErrorBound,
                                                          check_delta, check_eps, check_error,
                                                          check_extractor, check_output_bits,
                                                          check_runs, cyclic_length,
                                                          log2_bad_term, log2_extractor_error,
                                                          min_setting_probability,
                                                          per_run_entropy, smallest_meeting_runs)

THEOREM = "bellbox improved Protocol II chain (docs/amplification_protocol2_improved.md)"
ADVERSARY = "no-signaling"
ROUTES = ("chain-rule", "de-finetti")
"""``"chain-rule"``: min-entropy of ``x || y_j`` by the chain rule (docs, Section 5);
``"de-finetti"``: Lemma 13 and a product approximation (docs, Section 6)."""
EXTRACTOR = "three-source by concatenation: cyclic shift on (t, x || y_j), collision-entropy bound"
OUTPUT_BITS_PER_RUN = 4
"""``log2|Sigma|``: a run of a four-party device yields 4 output bits (Lemma 13)."""
MAX_BLOCK_BITS = 512
"""The de Finetti planner tries ``N2 = 2**k`` up to this ``k``."""
S_GRID_POINTS = 64
"""The free ``s`` is first scanned on this many log-spaced points (the polynomial hash's best
field degree switches with ``s``, so the bound can have several local minima), then refined."""
MAX_TOTAL_RUNS = 10**12
"""A plan needing more device runs ``n (1 + N2)`` than this is reported as out of reach."""
ASSUMPTIONS = (
    "A1-II/A2-II of paper 004 (eqs. (130)-(131)) and the eps-SV condition (1) for the bit order "
    "v^1..v^N2, u, j, t",
    "time-ordered no-signalling jointly among the eight device components and Eve (A3-II, docs "
    "Section 1; contains eqs. (124)-(129))",
    "Eve's input depends only on her SV information e, the output s and the published Bell counts "
    "(eqs. (138)-(139)), not on the block index j: the run does not publish j when N2 > 1 (an "
    "input depending on j would need 2^m [C sqrt(N2) E(2G) + 4 C (1+2eps)^k S], not implemented); "
    "u, v, j, y^{<j} are in M, on which the bound conditions",
)


def check_blocks(blocks: int) -> int:
    """``N2`` must be a power of 2 >= 1: the block index is ``log2 N2`` SV bits."""
    if (isinstance(blocks, bool) or int(blocks) != blocks or blocks < 1
            or int(blocks) & (int(blocks) - 1)):
        raise CertificateInputError(f"blocks must be a power of 2 >= 1 (the block index is "
                                    f"log2(blocks) SV bits), got {blocks}")
    return int(blocks)


def check_route(route: object) -> str:
    """``route`` must be one of :data:`ROUTES`."""
    if route not in ROUTES:
        raise CertificateInputError(f"route must be one of {ROUTES}, got {route!r}")
    return str(route)


def log2_block_choice_factor(blocks: int, eps: float) -> float:
    """``log2 (1 + 2 eps)**k``, ``k = log2 N2``: the block-choice lemma (docs, Section 3),
    ``P(B_j) <= (1/2 + eps)**k sum_l P(B_l) <= (1 + 2 eps)**k max_l P(B_l)``."""
    return (blocks.bit_length() - 1) * math.log2(1.0 + 2.0 * eps)


def log2_lemma13(runs: int, blocks: int, eps: float) -> float:
    """``log2 eps_L13``, ``eps_L13 = sqrt(2 ln2 * 4n * (1/2 + eps)**k)`` (eq. (50), docs
    Section 6)."""
    return 0.5 * (math.log2(2.0 * math.log(2.0) * OUTPUT_BITS_PER_RUN * runs)
                  + (blocks.bit_length() - 1) * math.log2(0.5 + eps))


@dataclass(frozen=True)
class ImprovedProtocolIICertificate(Log2ErrorBound):
    """Every intermediate number of the improved Protocol II chain (module docstring).

    ``log2_de_finetti_term`` is ``log2(2 eps_L13)`` on the de Finetti route and ``None`` on the
    chain-rule route; ``log2_count_factor`` is ``log2 C**2`` (de Finetti route) or 0."""

    runs: int
    blocks: int
    eps: float
    delta: float
    output_bits: int
    route: str
    s: float
    s_optimiser: str
    bell_bound: float
    min_setting_probability: float
    per_run_entropy: float
    device_min_entropy: float
    pair_bits: int
    pair_min_entropy: float
    t_length: int
    t_collision_entropy: float
    bell_count_values: int
    block_index_bits: int
    log2_block_choice_factor: float
    extractor: str
    log2_extractor_error: float
    log2_good_term: float
    log2_bad_term: float
    log2_de_finetti_term: float | None
    log2_count_factor: float
    log2_device_terms: float
    log2_d_times_acceptance: float
    log2_error_bound: float
    field_degree: int | None = None
    adversary_model: str = ADVERSARY
    theorem: str = THEOREM
    assumptions: tuple[str, ...] = ASSUMPTIONS


def _certificate(runs: int, blocks: int, eps: float, delta: float, output_bits: int, s: float,
                 optimiser: str, route: str, extractor: str) -> ImprovedProtocolIICertificate:
    threshold = delta + s
    per_run = per_run_entropy(threshold, eps)
    entropy = runs * per_run
    pair_bits = 2 * OUTPUT_BITS_PER_RUN * runs
    counts = math.floor(delta * runs) + 1
    if extractor == "polynomial-hash":
        hashing = polynomial_hash_parameters(pair_bits, 2.0 * entropy, eps, output_bits)
        log2_ext, length, degree = hashing.log2_l1_error, hashing.seed_bits, hashing.field_degree
        name = SHORT_SEED_EXTRACTOR
    else:
        length, degree, name = cyclic_length(pair_bits), None, EXTRACTOR
        log2_ext = log2_extractor_error(pair_bits, 2.0 * entropy, eps, output_bits)
    log2_sum = log2_bad_term(runs, delta, threshold) - 1.0  # log2 S(theta)
    block_factor = log2_block_choice_factor(blocks, eps)
    log2_good = math.log2(counts) + log2_ext
    if route == "chain-rule":
        log2_bad = 1.0 + math.log2(counts) + float(np.logaddexp2(0.0, block_factor)) + log2_sum
        de_finetti, count_factor = None, 0.0
        log2_device = float(np.logaddexp2(log2_good, log2_bad))
        log2_d = log2_device
    else:
        log2_bad = 2.0 + block_factor + log2_sum
        de_finetti, count_factor = 1.0 + log2_lemma13(runs, blocks, eps), 2.0 * math.log2(counts)
        log2_device = count_factor + float(np.logaddexp2(log2_good, log2_bad))
        log2_d = count_factor + float(np.logaddexp2.reduce([log2_good, log2_bad, de_finetti]))
    return ImprovedProtocolIICertificate(
        runs=runs, blocks=blocks, eps=eps, delta=delta, output_bits=output_bits, route=route,
        s=s, s_optimiser=optimiser, bell_bound=threshold,
        min_setting_probability=min_setting_probability(eps), per_run_entropy=per_run,
        device_min_entropy=entropy, pair_bits=pair_bits, pair_min_entropy=2.0 * entropy,
        t_length=length, t_collision_entropy=length * (1.0 - math.log2(1.0 + 4.0 * eps**2)),
        bell_count_values=counts, block_index_bits=blocks.bit_length() - 1,
        log2_block_choice_factor=block_factor, extractor=name, log2_extractor_error=log2_ext,
        log2_good_term=log2_good, log2_bad_term=log2_bad, log2_de_finetti_term=de_finetti,
        log2_count_factor=count_factor, log2_device_terms=log2_device,
        log2_d_times_acceptance=log2_d,
        log2_error_bound=output_bits + log2_d + LOG2_ROUNDING_MARGIN, field_degree=degree)


def certify_protocol2_improved(runs: int, blocks: int, eps: float, delta: float,
                               output_bits: int, s: float | None = None,
                               route: str = "chain-rule", extractor: str = "cyclic-shift"
                               ) -> ImprovedProtocolIICertificate:
    """The improved Protocol II certificate on ``route`` (:data:`ROUTES`) with ``extractor``;
    ``s`` is optimised on ``(0, 2c - delta)`` unless given (any ``s > 0`` gives a valid bound)."""
    runs, blocks, eps = check_runs(runs), check_blocks(blocks), check_eps(eps)
    delta, output_bits = check_delta(delta), check_output_bits(output_bits)
    route, extractor = check_route(route), check_extractor(extractor)

    def build(value: float, optimiser: str) -> ImprovedProtocolIICertificate:
        return _certificate(runs, blocks, eps, delta, output_bits, value, optimiser, route,
                            extractor)

    if s is not None:
        if not (np.isfinite(s) and 0 < s < 1.0 - delta):
            raise CertificateInputError(f"s must be a finite number in (0, 1 - delta), got {s}")
        return build(float(s), "fixed by caller")
    span = 2.0 * min_setting_probability(eps) - delta
    if span <= 0:  # f(delta + s) = 0 for every s: no min-entropy, the bound reports failure
        return build(1e-12, "none (delta >= 2 (1/2-eps)^4)")
    def score(log_s: float) -> float:
        # Lemma 13's term does not depend on s: minimising the device terms minimises the total
        # and keeps the optimiser informative when that term dominates.
        return build(math.exp(log_s), "").log2_device_terms

    grid = np.linspace(math.log(span * 1e-9), math.log(span * (1.0 - 1e-9)), S_GRID_POINTS)
    scores = [score(value) for value in grid]
    index = int(np.argmin(scores))
    result = minimize_scalar(score, bounds=(grid[max(index - 1, 0)],
                                            grid[min(index + 1, grid.size - 1)]),
                             method="bounded", options={"xatol": 1e-6})
    best = min((float(result.x), float(grid[index])), key=score)
    return build(math.exp(best), f"log-spaced grid of {S_GRID_POINTS} points on (0, 2(1/2-eps)^4 "
                 "- delta), then scipy minimize_scalar (bounded, log s) around the grid minimum")


@dataclass(frozen=True)
class ImprovedProtocolIIPlan:
    """Sizes ``(n, N2)`` with the fewest device runs ``n (1 + N2)`` whose certificate meets
    ``error``; all ``None`` (with ``reason``) when none is within reach, ``certificate`` then being
    the closest one considered. ``reason`` also explains the choice of ``N2``."""

    output_bits: int
    error: float
    eps: float
    delta: float
    route: str
    required_runs: int | None
    required_blocks: int | None
    total_runs: int | None
    certificate: ImprovedProtocolIICertificate
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {"output_bits": self.output_bits, "error": self.error, "eps": self.eps,
                "delta": self.delta, "route": self.route, "certificate_chain": "improved",
                "required_runs": self.required_runs, "required_blocks": self.required_blocks,
                "log2_required_blocks": (None if self.required_blocks is None
                                         else self.required_blocks.bit_length() - 1),
                "total_runs": self.total_runs, "reason": self.reason,
                "certificate": self.certificate.to_dict()}


PLAN_RUN_FACTORS = np.geomspace(1.0, 4.0, 33)
"""The de Finetti planner tries ``n = ceil(n_min f)`` for these ``f``."""


def _fewest_blocks(runs: int, eps: float, delta: float, output_bits: int, error: float,
                   extractor: str) -> ImprovedProtocolIICertificate | None:
    """De Finetti route: the certificate with the smallest ``N2 = 2**k`` meeting ``error`` at
    ``n = runs``, scanning ``k`` upwards from the smallest value at which ``2**m C**2 2 eps_L13``
    alone fits (a necessary condition); ``None`` if no ``k <= MAX_BLOCK_BITS`` meets it."""
    counts = math.floor(delta * runs) + 1
    needed = (math.log2(error) - output_bits - 2.0 * math.log2(counts) - 1.0) * 2.0 \
        - math.log2(2.0 * math.log(2.0) * OUTPUT_BITS_PER_RUN * runs)
    start = max(0, math.ceil(needed / math.log2(0.5 + eps)))
    for bits in range(start, MAX_BLOCK_BITS + 1):
        certificate = certify_protocol2_improved(runs, 1 << bits, eps, delta, output_bits,
                                                 route="de-finetti", extractor=extractor)
        if certificate.meets(error):
            return certificate
        if certificate.log2_device_terms + certificate.output_bits > math.log2(error):
            return None  # the device terms grow with k: more blocks cannot help any more
    return None


def plan_protocol2_improved(output_bits: int, error: float, eps: float, delta: float,
                            route: str = "chain-rule", extractor: str = "cyclic-shift"
                            ) -> ImprovedProtocolIIPlan:
    """Plan ``(n, N2)`` for ``output_bits`` at ``d_comp p(ACC) <= error`` (no devices run).

    Chain-rule route: ``N2`` enters only through ``(1 + 2 eps)**k >= 1``, so ``N2 = 1`` and ``n`` is
    the smallest meeting ``error`` (bisection, re-certified). De Finetti route: ``n_min`` is the
    smallest ``n`` whose device terms fit at ``N2 = 1``; for ``n = ceil(n_min f)``,
    ``f`` in :data:`PLAN_RUN_FACTORS`, the fewest blocks (:func:`_fewest_blocks`); at the ``N2`` of
    the pair with the fewest runs ``n (1 + N2)``, ``n`` is then bisected down to the smallest
    certifying value. Plans above :data:`MAX_TOTAL_RUNS` runs are out of reach.
    """
    output_bits, error = check_output_bits(output_bits), check_error(error)
    eps, delta = check_eps(eps), check_delta(delta)
    route, extractor = check_route(route), check_extractor(extractor)
    budget = math.log2(error)

    def certificate(runs: int, blocks: int = 1) -> ImprovedProtocolIICertificate:
        return certify_protocol2_improved(runs, blocks, eps, delta, output_bits, route=route,
                                          extractor=extractor)

    def device_fits(runs: int) -> bool:
        return output_bits + certificate(runs).log2_device_terms <= budget

    largest = certificate(MAX_PLANNED_RUNS)
    if not device_fits(MAX_PLANNED_RUNS):
        why = ("delta >= 2 (1/2 - eps)^4, no min-entropy" if largest.per_run_entropy == 0 else
               "the seed's collision-entropy deficit exceeds what 2G can pay")
        return ImprovedProtocolIIPlan(output_bits, error, eps, delta, route, None, None, None,
                                      largest, f"not certifiable with n <= {MAX_PLANNED_RUNS:.0e} "
                                      f"at any number of blocks: {why}")
    smallest = smallest_meeting_runs(device_fits)
    if route == "chain-rule":
        runs = smallest_meeting_runs(lambda n: certificate(n).meets(error))
        return ImprovedProtocolIIPlan(
            output_bits, error, eps, delta, route, runs, 1, 2 * runs, certificate(runs),
            "chain-rule route (docs Section 5): N2 = 1, because blocks enter only through the "
            "block-choice factor (1 + 2 eps)^log2(N2) >= 1, so more blocks never help")
    candidates = []
    for runs in sorted({max(smallest, math.ceil(smallest * f)) for f in PLAN_RUN_FACTORS}):
        found = _fewest_blocks(runs, eps, delta, output_bits, error, extractor)
        if found is not None:
            candidates.append((runs * (1 + found.blocks), runs, found))
    if not candidates:
        return ImprovedProtocolIIPlan(output_bits, error, eps, delta, route, None, None, None,
                                      certificate(smallest, 1 << MAX_BLOCK_BITS),
                                      f"out of reach: no N2 <= 2^{MAX_BLOCK_BITS} blocks "
                                      "certifies (Lemma 13's term)")
    total, runs, best = min(candidates, key=lambda item: item[:2])
    # At fixed N2 the certifying n form an interval (eps_L13 grows like sqrt(n)): bisect down to
    # its lower end between the grid points, keeping only re-certified answers.
    failing = smallest - 1
    while runs - failing > 1:
        middle = (failing + runs) // 2
        trial = certificate(middle, best.blocks)
        if trial.meets(error):
            runs, best = middle, trial
        else:
            failing = middle
    total = runs * (1 + best.blocks)
    lemma13 = ("de Finetti route (docs Section 6): Lemma 13's term 2 eps_L13 = "
               f"2^{best.log2_de_finetti_term:.1f} needs "
               f"N2 = 2^{best.block_index_bits} blocks of n = {runs}")
    if total > MAX_TOTAL_RUNS:
        return ImprovedProtocolIIPlan(output_bits, error, eps, delta, route, None, None, None,
                                      best, f"out of reach: {lemma13}, i.e. n (1 + N2) = "
                                      f"{float(total):.3g} > {MAX_TOTAL_RUNS:.0e} device runs")
    return ImprovedProtocolIIPlan(output_bits, error, eps, delta, route, runs, best.blocks,
                                  total, best, lemma13)


def best_certificate(runs: int, blocks: int, eps: float, delta: float, output_bits: int,
                     route: str = "chain-rule") -> ImprovedProtocolIICertificate:
    """Over the extractors :data:`EXTRACTORS` (cyclic shift, polynomial hash), the certificate
    with the smallest bound on ``route`` (ties: the first listed); its ``extractor`` names it."""
    return min((certify_protocol2_improved(runs, blocks, eps, delta, output_bits, route=route,
                                           extractor=name) for name in EXTRACTORS),
               key=lambda certificate: certificate.log2_error_bound)


def largest_certified_output(runs: int, blocks: int, error: float, eps: float, delta: float,
                             route: str = "chain-rule") -> ImprovedProtocolIICertificate:
    """Over :data:`EXTRACTORS`, the certificate of the largest ``m <= 8n`` meeting ``error`` on
    ``route`` (ties: the smaller bound, then the first listed); the ``m = 1`` certificate of the
    better extractor when none meets it."""
    error = check_error(error)
    found = [largest_meeting_output(
        lambda bits, name=name: certify_protocol2_improved(runs, blocks, eps, delta, bits,
                                                           route=route, extractor=name),
        error, 2 * OUTPUT_BITS_PER_RUN * check_runs(runs)) for name in EXTRACTORS]
    return min(found, key=lambda item: (-item[0], item[1].log2_error_bound))[1]


def best_plan(output_bits: int, error: float, eps: float, delta: float,
              route: str | None = None) -> ImprovedProtocolIIPlan:
    """The plan with the fewest device runs ``n (1 + N2)`` over :data:`EXTRACTORS` and over
    ``route`` (``None``: both :data:`ROUTES`; ties: the order listed), each planned by
    :func:`plan_protocol2_improved`. When nothing is within reach, the plan of the first route
    and extractor (with its reason)."""
    if route is not None:
        check_route(route)
    plans = [plan_protocol2_improved(output_bits, error, eps, delta, route=name,
                                     extractor=extractor)
             for name in (ROUTES if route is None else (route,)) for extractor in EXTRACTORS]
    reachable = [plan for plan in plans if plan.total_runs is not None]
    return min(reachable, key=lambda plan: plan.total_runs) if reachable else plans[0]


EXTRACTOR_MODELS = {EXTRACTOR: CyclicShiftExtractor(),
                    SHORT_SEED_EXTRACTOR: PolynomialHashExtractor()}
"""The extractor applied to ``(x || y_j, t)``, by the certificate's ``extractor`` field; it gets
``t_length`` SV bits (``L = next_cyclic_length(8n)``, or the hash's ``2b``)."""
