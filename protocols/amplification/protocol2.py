"""Protocol II of paper 004 (Fig. 3, Theorem 27): amplification from two four-party devices.

The protocol (Fig. 3, Sec. VI): the eps-SV source chooses the settings ``u`` of ``n`` runs of
device 1 and ``v_1..v_N2`` of ``N2`` blocks of ``n`` runs of device 2 (in this order); then
``log2 N2`` further SV bits choose a block ``j``; both tests ``L(x, u) <= delta`` and
``L(y_j, v_j) <= delta`` (eqs. (135)-(137)) must pass; then a three-source extractor is applied
to ``(x, y_j, t)`` with ``t`` further SV bits. Device 2 runs all ``N2`` blocks (Fig. 3 step 1);
blocks after ``j`` are discarded, which changes nothing for blocks ``<= j`` by the time-ordered
no-signaling condition (129).

Two certificate chains (:func:`run_protocol2`): ``"improved"`` (the default,
:mod:`protocols.amplification.improved_protocol2`, derivation and review in
docs/amplification_protocol2_improved.md; it draws the SV bits in the order ``v, u, j, t`` that
its proof needs, which closes the gap of Props. 24-25 for ``eps > 0``) and ``"paper"``, the chain
below (order ``u, v, j, t`` as Fig. 3).

**Certificate (paper chain).** All logarithms base 2, tiny numbers carried as ``log2``. With
``M = (z, u, v_j, M_j, e)`` (Sec. VI) and the published Bell counts ``c = (c_1, c_j)`` (every
report publishes both ``L`` values, as Protocol I does):

1. Per device, Props. 24-25 (the analogues of Lemma 18 / Prop. 19 with ``u -> (u, v_j, M_j)``):
   the Protocol I quantities of :mod:`protocols.amplification.paper_device_terms` (Azuma ``eps_Az``,
   Lemmas 9-12 with the run-time LP of Lemma 11, the factor ``floor(delta n) + 1`` for the
   published count) give ``sum_M q(M) sum_c1 max_{x in ACC1, c1} q(x|M) <= delta_1`` and the same for
   ``y_j``.
2. Lemma 13 (eq. (50)): ``E_M ||q(x, y_j|M) - q(x|M) (x) q(y_j|M)||_1 <= eps_L13`` with
   ``eps_L13 = sqrt(2 ln 2 * lambda * n log2|Sigma|)``, ``log2|Sigma| = 4`` output bits per run and
   ``lambda = max_j nu(j|u, v) <= (1/2 + eps)**log2(N2)`` (``N2`` a power of 2, the block index
   being ``log2 N2`` SV bits). Typo in the proof, eq. (53): its middle line lacks the factor
   ``N2`` in front of ``E_{j ~ U(N2)}`` (``nu(j) <= (1/2 + eps)**log N2 = N2 (1/2 + eps)**log N2
   * U(j)``) and the ``1/N2`` of the chain rule (52); the two omissions cancel, so eq. (50) and
   Theorem 27's ``eps_deF**2 = c sqrt(n) N**(log2(1/2 + eps)/2)`` (``c = sqrt(8 ln 2)``) are right.
3. Replacement of Prop. 26 (tighter, and no free ``xi``): for distributions ``P, Q`` and an
   event ``A``, ``||P_A/P(A) - Q_A/Q(A)||_1 <= ||P_A - Q_A||_1/P(A) + |P(A) - Q(A)|/P(A)
   <= 2 ||P_A - Q_A||_1 / P(A)``. With ``P = q(x, y_j|M)``, ``Q`` the product, and
   ``A = ACC_c`` the product set of accepted ``(x, y_j)`` with counts ``c`` (so ``Q_A/Q(A) =
   q(x|M, ACC1_c1) (x) q(y_j|M, ACCj_cj)``), weighting by ``q(M, ACC_c)/q(ACC)`` and summing over
   the disjoint ``A`` gives ``2 E_M ||P - Q||_1 / q(ACC) <= 2 eps_L13 / q(ACC)``. The paper's
   route (Markov (184) with ``eps_deF**2 = eps_L13``, the paper's ``eps_2deF``; then eqs. (185),
   (196), (197): ``2 eps_deF/q(ACC) + 3 eps_deF/xi**2 + 2 xi/q(ACC)``) is weaker at every
   ``xi``: its first term alone is ``2 sqrt(eps_L13)/q(ACC) >= 2 eps_L13/q(ACC)``.
4. Proof of Theorem 27 with Protocol I's free Markov threshold ``k`` (eqs. (182)-(199)): ``M`` is
   bad for ``c`` when ``max_x q(x|M, ACC1_c1) > 2**-k`` or ``max_y q(y_j|M, ACCj_cj) > 2**-k``;
   Markov and step 1 give ``q(bad, ACC) <= 2 * 2**k delta_1``. On good ``M`` the product has
   min-entropy ``>= 2k``, ``t`` is independent of ``(x, y_j)`` given ``M`` (eq. (188)) with
   min-entropy ``l_t log2(1/(1/2 + eps))``, so the extractor's L1 error ``e_ext`` applies to the
   product, and the distance to it adds step 3's term (data processing). Bad pairs cost 2 each:
   ``d_II q(ACC) <= e_ext + 4 * 2**k delta_1 + 2 eps_L13``.
5. Prop. 23 (eq. (157)) and Rem. 28: ``d_comp p(ACC) <= 2**m (e_ext + 4 * 2**k delta_1 +
   2 eps_L13)`` (eq. (181), ``d_comp`` the L1 distance of eq. (138)).

**Extractor.** Rao's extractor (Lemma 5 (ii)) has no explicit constants; this certificate uses
the three-source extractor by concatenation of :mod:`extractors.three_source`,
``Ext3(t, x, y_j) = Ext2(t, x || y_j)`` with Dodis et al.'s cyclic shifts (classical bound).
Its padded length is ``L = next_cyclic_length(8n)`` with ``t`` of ``L`` SV bits; the other
groupings need ``k_x + k_y > 4n``, impossible since Lemma 11 allows at most ``log2 3`` bits of
min-entropy per 4-bit run. Error ``2**((m + L + 1 - 2k - L log2(1/(1/2+eps)))/2)`` in L1: like
Protocol I it needs ``2k > L log2(1 + 2 eps) + m + 1``. Azuma certifies at most
``k <= n delta_Az**2 log2(e)/4`` with ``delta_Az < 4 (1/2 - eps)**8``, so no ``(n, N2)`` certifies
once ``log2(1 + 2 eps) >= (4 (1/2 - eps)**8)**2 log2(e)/16``, i.e. ``eps >~ 7.6e-6`` (Protocol I's
range: ``x || y_j`` has twice the bits and twice the min-entropy of ``x``).

**Consequences.** Lemma 13's term falls only like ``N2**(log2(1/2 + eps)/2)`` and grows like
``sqrt(n)``: at ``eps = 0``, 1 bit at error 0.05 needs ``N2 = 2**34`` blocks of ``n ~ 2.5e5``
runs, 64 bits at ``2**-40`` need ``N2 = 2**235`` (see :func:`plan_protocol2`); and at fixed ``N2``
more runs can certify fewer bits. The certified output is non-decreasing in ``N2`` and along
``(n, N2) -> (2n, 4 N2)``.

**Optimiser.** ``delta_Az`` and ``k`` as in Protocol I (log-spaced scan plus golden section;
bisection for ``k``); ``eps_L13`` has no free parameter.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from extractors.models import ThreeSourceByConcatenation
from protocols.amplification.certificate import failure_reason
from protocols.amplification.certificate_base import (MAX_PLANNED_RUNS, CertificateInputError,
                                                      check_error, check_output_bits, check_runs,
                                                      largest_meeting_output, log2_sum,
                                                      smallest_meeting_runs,
                                                      sv_min_entropy_per_bit)
from protocols.amplification.paper_device_terms import (DeviceTerms, best_entropy_threshold,
                                                        gamma_terms, largest_bell_bound,
                                                        optimise_delta_az)
from protocols.amplification.improved_protocol2 import (
    EXTRACTOR_MODELS, ImprovedProtocolIICertificate, best_plan, check_blocks, check_route)
from protocols.amplification.improved_protocol2 import (
    best_certificate as best_improved_certificate,
    largest_certified_output as largest_improved_output)
from protocols.amplification.protocol1 import (CERTIFICATE_CHAINS, DEFAULT_CERTIFICATE,
                                               DEFAULT_CHUNK_RUNS, STATUS_ABORTED,
                                               STATUS_CERTIFIED, STATUS_NOT_CERTIFIED,
                                               AmplificationInputError)
from protocols.bell.four_party import BellTestResult, acceptance, bell_indicator, check_delta
from protocols.results import AmplificationOutput
from qdevices.sources import check_sv_eps as check_eps

OUTPUT_BITS_PER_RUN = 4
"""``log2|Sigma|``: each run of a four-party device yields 4 output bits (Lemma 13)."""


def log2_de_finetti(runs: int, blocks: int, eps: float) -> float:
    """``log2 eps_L13``, Lemma 13 / eq. (50): ``eps_L13 = sqrt(2 ln 2 * (1/2 + eps)**log2(N2) * 4n)``,
    rounded up by one ulp."""
    runs, blocks, eps = check_runs(runs), check_blocks(blocks), check_eps(eps)
    log2_lambda = (blocks.bit_length() - 1) * math.log2(0.5 + eps)
    value = 0.5 * (math.log2(2.0 * math.log(2.0) * OUTPUT_BITS_PER_RUN * runs) + log2_lambda)
    return math.nextafter(value, math.inf)


EXTRACTOR = ThreeSourceByConcatenation()


@dataclass(frozen=True)
class ProtocolIICertificate(DeviceTerms):
    """Every intermediate number of the Protocol II certificate (module docstring).

    The per-device fields (``delta_az`` .. ``log2_delta1``) are Protocol I's, shared by both
    devices (same ``n`` and ``delta``). ``x_length``/``x_min_entropy`` describe ``x || y_j``.
    """

    blocks: int
    block_index_bits: int
    log2_block_probability: float
    log2_de_finetti: float
    device_bits: int
    device_min_entropy: int
    log2_de_finetti_term: float

    @property
    def log2_device_terms(self) -> float:
        """``log2(e_ext + 4 * 2**k delta_1)``: the part that more blocks cannot reduce."""
        return log2_sum(self.log2_extractor_error, self.log2_markov_term)


def certify_protocol2(runs: int, blocks: int, eps: float, delta: float, output_bits: int,
                      delta_az: float | None = None) -> ProtocolIICertificate:
    """Certificate of Theorem 27 (module docstring) with ``delta_Az`` and ``k`` optimised (or
    ``delta_az`` fixed)."""
    runs, blocks, eps = check_runs(runs), check_blocks(blocks), check_eps(eps)
    delta, output_bits = check_delta(delta), check_output_bits(output_bits)
    device_bits = OUTPUT_BITS_PER_RUN * runs
    t_length = EXTRACTOR.t_length(device_bits)
    t_entropy = t_length * sv_min_entropy_per_bit(eps)
    log2_lemma13 = log2_de_finetti(runs, blocks, eps)
    index_bits = blocks.bit_length() - 1

    def build(delta_az_value: float) -> ProtocolIICertificate:
        g = gamma_terms(runs, eps, delta, delta_az_value)
        # Two devices: q(bad, ACC) <= 2 * 2^k delta_1, so the Markov term is 2 * (2 delta_1) 2^k.
        k, log2_ext, log2_markov = best_entropy_threshold(
            g["log2_delta1"] + 1.0, device_bits, t_length, t_entropy, output_bits, EXTRACTOR)
        log2_d = log2_sum(log2_ext, log2_markov, 1.0 + log2_lemma13)
        return ProtocolIICertificate(
            runs=runs, blocks=blocks, eps=eps, delta=delta, output_bits=output_bits,
            delta_az=delta_az_value, **g, block_index_bits=index_bits, log2_block_probability=index_bits * math.log2(0.5 + eps),
            log2_de_finetti=log2_lemma13, device_bits=device_bits, device_min_entropy=k,
            x_length=2 * device_bits, x_min_entropy=2 * k, t_length=t_length,
            t_min_entropy=t_entropy, extractor=EXTRACTOR.name, log2_extractor_error=log2_ext,
            log2_markov_term=log2_markov, log2_de_finetti_term=1.0 + log2_lemma13,
            log2_d_times_acceptance=log2_d, log2_error_bound=output_bits + log2_d)

    if delta_az is not None:
        if not (np.isfinite(delta_az) and delta_az > 0):
            raise CertificateInputError(f"delta_az must be a finite number > 0, got {delta_az}")
        return build(float(delta_az))
    # Only the device and extractor terms depend on delta_Az (and k); scoring them alone keeps
    # the optimiser informative when the Lemma 13 term dominates the total.
    return optimise_delta_az(build, largest_bell_bound(eps) - delta,
                              score=lambda certificate: certificate.log2_device_terms)


def largest_certified_output2(runs: int, blocks: int, error: float, eps: float, delta: float
                              ) -> tuple[int, ProtocolIICertificate]:
    """Largest ``m`` certified at ``(n, N2)`` and ``error`` (0 and the ``m = 1`` certificate if none)."""
    error = check_error(error)
    return largest_meeting_output(
        lambda bits: certify_protocol2(runs, blocks, eps, delta, bits), error,
        8 * check_runs(runs))


def protocol2_failure_reason(certificate: ProtocolIICertificate, error: float) -> str:
    """Which term stops ``certificate`` from meeting ``error`` (empty when it meets it)."""
    if certificate.meets(error):
        return ""
    budget = math.log2(error) - certificate.output_bits
    if certificate.log2_device_terms <= budget:
        return (f"Lemma 13 de Finetti term 2 eps_L13 = 2^{certificate.log2_de_finetti_term:.1f} "
                f"exceeds what is left of 2^{budget:.1f} = error / 2^m with N2 = "
                f"{certificate.blocks} blocks: more blocks are needed")
    if certificate.gamma >= 1.0 and certificate.delta < largest_bell_bound(certificate.eps):
        return (f"n = {certificate.runs} runs are too few: the device and extractor terms "
                f"2^{certificate.log2_device_terms:.1f} exceed 2^{budget:.1f} = error / 2^m at every "
                "delta_Az (Azuma's 2 exp(-delta_Az^2 n / 4) needs a delta_Az so large that "
                "Lemma 11 certifies nothing)")
    return failure_reason(certificate, error)  # the per-device and extractor terms, as Protocol I


PLAN_RUN_FACTORS = np.geomspace(1.0, 16.0, 25)
"""The planner tries ``n = n_min * f`` for these ``f`` (module :func:`plan_protocol2`)."""


@dataclass(frozen=True)
class ProtocolIIPlan:
    """The planner's answer for Protocol II (:func:`plan_protocol2`).

    ``required_runs``/``required_blocks`` is the certifying pair with the fewest device runs
    ``n (1 + N2)`` (``total_runs``); ``smallest_runs`` the smallest ``n`` certifying with some
    ``N2``. All are ``None`` when no ``n <= MAX_PLANNED_RUNS`` certifies; ``certificate`` is then
    the one at ``MAX_PLANNED_RUNS`` and ``reason`` says why.
    """

    output_bits: int
    error: float
    eps: float
    delta: float
    required_runs: int | None
    required_blocks: int | None
    smallest_runs: int | None
    total_runs: int | None
    certificate: ProtocolIICertificate
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {"output_bits": self.output_bits, "error": self.error, "eps": self.eps,
                "sv_eps": self.eps, "delta": self.delta, "required_runs": self.required_runs,
                "required_blocks": self.required_blocks,
                "log2_required_blocks": (None if self.required_blocks is None
                                         else self.required_blocks.bit_length() - 1),
                "smallest_runs": self.smallest_runs, "total_runs": self.total_runs,
                "reason": self.reason, "certificate": self.certificate.to_dict()}


def _fewest_blocks(runs: int, eps: float, delta: float, output_bits: int, error: float
                   ) -> ProtocolIICertificate | None:
    """Certificate with the smallest power-of-2 ``N2`` certifying at ``n = runs`` (None if none).

    Solves ``1 + log2 eps_L13(N2) <= log2(error 2^-m - (e_ext + 4 2^k delta_1))`` for
    ``log2 N2`` in closed form, then re-certifies (raising ``N2`` while rounding fails it)."""
    device = certify_protocol2(runs, 1, eps, delta, output_bits)
    budget = math.log2(error) - output_bits
    if device.log2_device_terms >= budget:
        return None
    log2_left = budget + math.log2(-math.expm1((device.log2_device_terms - budget) * math.log(2)))
    # 2 eps_L13 <= left  <=>  (log2 N2) log2(1/2 + eps) <= 2 (log2 left - 1) - log2(8 ln2 n)
    needed = 2.0 * (log2_left - 1.0) - math.log2(2.0 * math.log(2.0) * OUTPUT_BITS_PER_RUN * runs)
    bits = max(0, math.ceil(needed / math.log2(0.5 + eps)))
    while True:
        certificate = certify_protocol2(runs, 1 << bits, eps, delta, output_bits)
        if certificate.meets(error):
            return certificate
        bits += 1


def plan_protocol2(output_bits: int, error: float, eps: float, delta: float) -> ProtocolIIPlan:
    """Sizes ``(n, N2)`` certifying ``output_bits`` at ``d_comp p(ACC) <= error`` (no devices run).

    1. ``n_min``: smallest ``n`` whose device and extractor terms alone fit (bisection,
       :func:`protocols.amplification.certificate_base.smallest_meeting_runs`); if none up to
       ``MAX_PLANNED_RUNS`` does, no number of blocks helps and the plan says why.
    2. For each ``n = n_min * f``, ``f`` in :data:`PLAN_RUN_FACTORS`, the fewest blocks
       (:func:`_fewest_blocks`); the pair with the fewest device runs ``n (1 + N2)`` is returned.
    """
    output_bits, error = check_output_bits(output_bits), check_error(error)
    eps, delta = check_eps(eps), check_delta(delta)
    budget = math.log2(error) - output_bits

    def device_fits(runs: int) -> bool:
        return certify_protocol2(runs, 1, eps, delta, output_bits).log2_device_terms < budget

    if not device_fits(MAX_PLANNED_RUNS):
        largest = certify_protocol2(MAX_PLANNED_RUNS, 1, eps, delta, output_bits)
        return ProtocolIIPlan(output_bits, error, eps, delta, None, None, None, None, largest,
                              f"not certifiable with n <= {MAX_PLANNED_RUNS:.0e} at any number "
                              "of blocks: " + failure_reason(largest, error))
    smallest = smallest_meeting_runs(device_fits)
    candidates = []
    for runs in sorted({max(smallest, math.ceil(smallest * f)) for f in PLAN_RUN_FACTORS}):
        certificate = _fewest_blocks(runs, eps, delta, output_bits, error)
        if certificate is not None:
            candidates.append((runs * (1 + certificate.blocks), runs, certificate))
    total, runs, best = min(candidates, key=lambda item: item[:2])
    return ProtocolIIPlan(output_bits, error, eps, delta, runs, best.blocks, smallest, total,
                          best, "")


@dataclass(frozen=True)
class ProtocolIIResult(AmplificationOutput):
    """Outcome of Protocol II. ``output`` holds the bits (0/1 ``uint8``) only when certified.

    ``first_test`` is device 1's test, ``block_test`` the test of the chosen block of device 2;
    ``block`` is its 0-based index, or ``None`` when it is withheld (improved chain with
    ``N2 > 1``, :func:`run_protocol2`). ``certificate_chain`` is ``"improved"`` or ``"paper"``,
    ``route`` the improved chain's route (``None`` for the paper chain). Shared vocabulary
    (:mod:`protocols.results`) as Protocol I's
    :class:`protocols.amplification.protocol1.AmplificationResult`; the theorem and adversary are
    the certificate's.
    """

    SUCCESS_STATUS: ClassVar[str] = STATUS_CERTIFIED
    THEOREM: ClassVar[str] = "paper 004 Theorem 27 (eq. (181)), explicit chain"

    status: str
    reason: str
    runs: int
    blocks: int
    block: int | None
    eps: float
    source: str
    devices: dict[str, Any]
    secure: bool
    first_test: BellTestResult
    block_test: BellTestResult
    requested_error: float
    certificate: ProtocolIICertificate | ImprovedProtocolIICertificate
    certificate_chain: str
    route: str | None
    output: np.ndarray | None
    required_runs: int | None
    required_blocks: int | None

    def _json_fields(self, fields: dict[str, Any]) -> dict[str, Any]:
        """The report's flat fields (the output bits are never included)."""
        return {
            "protocol": 2,
            "status": self.status,
            "reason": self.reason,
            "certificate_chain": self.certificate_chain,
            "route": self.route,
            "extractor": self.certificate.extractor,
            "runs": self.runs,
            "blocks": self.blocks,
            "chosen_block": self.block,
            "chosen_block_published": self.block is not None,
            "sv_eps": self.eps,
            "source": self.source,
            "device": self.devices,
            "bell_average": [self.first_test.bell_average, self.block_test.bell_average],
            "delta": self.first_test.delta,
            "bell_tests": {"first_device": self.first_test.to_dict(),
                           "chosen_block": self.block_test.to_dict()},
            "output_bits": self.output_bits,
            "requested_error": self.requested_error,
            "error_bound": self.certificate.error_bound,
            "log2_error_bound": self.certificate.log2_error_bound,
            "required_runs": self.required_runs,
            "required_blocks": self.required_blocks,
            "certificate": self.certificate.to_dict(),
        }


def _stream_device(device: Any, source: Any, runs: int, blocks: int, chunk_runs: int,
                   keep: bool, progress: Callable[[int], None] | None
                   ) -> tuple[np.ndarray, np.ndarray | None]:
    """Measure ``blocks`` blocks of ``runs`` runs with SV settings; returns the Bell violations
    of each block (``int64``) and, when ``keep``, the packed outputs (``ceil(4 runs blocks / 8)``
    bytes, written in place chunk by chunk).

    Chunks hold an even number of runs (a whole number of bytes), so they pack exactly."""
    chunk_runs = max(2, chunk_runs - chunk_runs % 2)
    total = runs * blocks
    violations = np.zeros(blocks, dtype=np.int64)
    packed = np.empty(-(-OUTPUT_BITS_PER_RUN * total // 8), dtype=np.uint8) if keep else None
    for start in range(0, total, chunk_runs):
        count = min(chunk_runs, total - start)
        settings = source.settings(count)
        outputs = np.asarray(device.measure(settings), dtype=np.uint8)
        block_of_run = np.arange(start, start + count) // runs
        first = int(block_of_run[0])
        chunk_counts = np.bincount(block_of_run - first, weights=bell_indicator(outputs, settings))
        violations[first:first + chunk_counts.size] += np.rint(chunk_counts).astype(np.int64)
        if packed is not None:
            chunk = np.packbits(outputs.reshape(-1))
            offset = OUTPUT_BITS_PER_RUN * start // 8
            packed[offset:offset + chunk.size] = chunk
        if progress is not None:
            progress(count)
    return violations, packed


def _block_bits(packed: np.ndarray, runs: int, block: int) -> np.ndarray:
    """The ``4 runs`` output bits of block ``block`` from the packed output stream."""
    first, last = OUTPUT_BITS_PER_RUN * runs * block, OUTPUT_BITS_PER_RUN * runs * (block + 1)
    window = np.unpackbits(packed[first // 8:-(-last // 8)])
    return window[first % 8:first % 8 + last - first]


def _chosen_block(source: Any, index_bits: int) -> int:
    """The block index ``j`` from ``index_bits`` SV bits, most significant bit first."""
    bits = source.bits(index_bits).astype(np.int64)
    return int(np.dot(bits, 1 << np.arange(bits.size)[::-1]))


def _describe(first_device: Any, second_device: Any) -> dict[str, Any]:
    return {name: device.describe() if hasattr(device, "describe") else {}
            for name, device in (("first", first_device), ("second", second_device))}


def _aborted_reason(first_test: BellTestResult, block_test: BellTestResult, block_name: str,
                    delta: float) -> str:
    return "; ".join(f"{name} L_n = {test.bell_average:.6g} > delta = {delta:g}"
                     for name, test in (("device 1", first_test), (block_name, block_test))
                     if not test.accepted)


def _check_chain(certificate: str) -> str:
    if certificate not in CERTIFICATE_CHAINS:
        raise AmplificationInputError(f"certificate must be one of {CERTIFICATE_CHAINS}, "
                                      f"got {certificate!r}")
    return certificate


def run_protocol2(first_device: Any, second_device: Any, source: Any, runs: int, blocks: int,
                  delta: float, error: float, output_bits: int | None = None,
                  chunk_runs: int = DEFAULT_CHUNK_RUNS,
                  progress: Callable[[int], None] | None = None,
                  certificate: str = DEFAULT_CERTIFICATE, route: str = "chain-rule"
                  ) -> ProtocolIIResult:
    """Run Protocol II (Fig. 3) on two devices (``measure((N, 4)) -> (N, 4)`` boxes) with the
    eps-SV ``source``; ``output_bits=None`` outputs the largest certified number of bits.

    ``certificate="improved"`` (default; :mod:`protocols.amplification.improved_protocol2`, docs/
    amplification_protocol2_improved.md, on ``route`` ``"chain-rule"`` or ``"de-finetti"``):
    the SV bits are drawn in the order the proof needs (docs, Section 0): ``v^1..v^N2`` (all
    blocks of device 2, streamed), ``u`` (device 1), the block index ``j`` (``log2 N2`` bits), the
    seed ``t``. Both accepted counts are published, nothing of the other blocks. The extractor
    is the one with the smaller bound (:func:`protocols.amplification.improved_protocol2.
    best_certificate`: cyclic shift on ``(t, x || y_j)`` with ``L = next_cyclic_length(8n)`` SV
    bits, or the polynomial hash with ``2b``), applied to the pair at its chain-rule min-entropy
    ``2G`` (docs, Section 4; no product of two independent sources is assumed). **The chosen
    block ``j`` is not published when ``N2 > 1``** (``block`` and the report's ``chosen_block``
    are ``None``): A4 lets Eve's input depend on ``(e, s, a)`` only, and a published ``j`` would
    need the review's larger bound ``2^m [C sqrt(N2) E(2G) + 4 C (1+2eps)^k S]``, which is not
    implemented. With ``N2 = 1``, ``j`` has no bits and ``block = 0`` is reported.

    ``certificate="paper"``: paper 004's Theorem 27 chain (module docstring), SV order ``u``,
    ``v^1..v^N2``, ``j``, ``t`` and ``j`` published, as the paper's Fig. 3.

    The certificate depends only on ``(n, N2, eps, delta, m)`` and is computed first; device
    outputs are kept (packed: ``n (1 + N2) / 2`` bytes) only when they will be extracted; otherwise
    memory is one chunk plus ``8 N2`` bytes of per-block Bell counts.
    """
    runs, blocks = check_runs(runs), check_blocks(blocks)
    delta, error = check_delta(delta), check_error(error)
    if _check_chain(certificate) == "paper":
        return _run_paper_chain(first_device, second_device, source, runs, blocks, delta, error,
                                output_bits, chunk_runs, progress)
    route = check_route(route)
    if output_bits is None:
        chosen = largest_improved_output(runs, blocks, error, source.eps, delta, route)
    else:
        chosen = best_improved_certificate(runs, blocks, source.eps, delta, output_bits, route)
    certified = chosen.meets(error)
    second_counts, y_packed = _stream_device(second_device, source, runs, blocks, chunk_runs,
                                             certified, progress)
    first_counts, x_packed = _stream_device(first_device, source, runs, 1, chunk_runs,
                                            certified, progress)
    block = _chosen_block(source, chosen.block_index_bits)
    first_test = acceptance(int(first_counts[0]), runs, delta)
    block_test = acceptance(int(second_counts[block]), runs, delta)
    published = block if blocks == 1 else None
    common = dict(runs=runs, blocks=blocks, block=published, eps=source.eps, source=source.name,
                  devices=_describe(first_device, second_device), secure=bool(source.secure),
                  first_test=first_test, block_test=block_test, requested_error=error,
                  certificate=chosen, certificate_chain="improved", route=route)
    if not (first_test.accepted and block_test.accepted):
        return ProtocolIIResult(status=STATUS_ABORTED, output=None, required_runs=None,
                                required_blocks=None, reason=_aborted_reason(
                                    first_test, block_test, "chosen block", delta), **common)
    if not certified:
        plan = best_plan(output_bits if output_bits is not None else 1, error, source.eps, delta,
                         route)
        reason = (f"improved chain ({route}): d_comp p(ACC) <= 2^{chosen.log2_error_bound:.2f} "
                  f"> error = {error:g}")
        if plan.required_runs is None:
            reason += f"; {plan.reason}"
        return ProtocolIIResult(status=STATUS_NOT_CERTIFIED, output=None,
                                required_runs=plan.required_runs,
                                required_blocks=plan.required_blocks, reason=reason, **common)
    pair = np.concatenate([np.unpackbits(x_packed, count=OUTPUT_BITS_PER_RUN * runs),
                           _block_bits(y_packed, runs, block)])
    t = source.bits(chosen.t_length)
    output = EXTRACTOR_MODELS[chosen.extractor].extract(pair, t, chosen.output_bits)
    return ProtocolIIResult(status=STATUS_CERTIFIED, output=output, required_runs=runs,
                            required_blocks=blocks, reason="", **common)


def _run_paper_chain(first_device: Any, second_device: Any, source: Any, runs: int, blocks: int,
                     delta: float, error: float, output_bits: int | None, chunk_runs: int,
                     progress: Callable[[int], None] | None) -> ProtocolIIResult:
    """:func:`run_protocol2` with ``certificate="paper"``: SV order ``u``, ``v^1..v^N2``, ``j``,
    ``t`` (Fig. 3), the Theorem 27 certificate and the three-source extractor."""
    if output_bits is None:
        certificate = largest_certified_output2(runs, blocks, error, source.eps, delta)[1]
    else:
        certificate = certify_protocol2(runs, blocks, source.eps, delta, output_bits)
    certified = certificate.meets(error)
    first_counts, x_packed = _stream_device(first_device, source, runs, 1, chunk_runs,
                                            certified, progress)
    second_counts, y_packed = _stream_device(second_device, source, runs, blocks, chunk_runs,
                                             certified, progress)
    block = _chosen_block(source, certificate.block_index_bits)
    first_test = acceptance(int(first_counts[0]), runs, delta)
    block_test = acceptance(int(second_counts[block]), runs, delta)
    common = dict(runs=runs, blocks=blocks, block=block, eps=source.eps, source=source.name,
                  devices=_describe(first_device, second_device), secure=bool(source.secure),
                  first_test=first_test, block_test=block_test, requested_error=error,
                  certificate=certificate, certificate_chain="paper", route=None)
    if not (first_test.accepted and block_test.accepted):
        return ProtocolIIResult(status=STATUS_ABORTED, output=None, required_runs=None,
                                required_blocks=None, reason=_aborted_reason(
                                    first_test, block_test, f"block {block}", delta), **common)
    if not certified:
        plan = plan_protocol2(output_bits if output_bits is not None else 1, error, source.eps,
                              delta)
        reason = protocol2_failure_reason(certificate, error)
        if plan.required_runs is None:
            reason += f"; {plan.reason}"
        return ProtocolIIResult(status=STATUS_NOT_CERTIFIED, output=None,
                                required_runs=plan.required_runs,
                                required_blocks=plan.required_blocks, reason=reason, **common)
    x = np.unpackbits(x_packed, count=OUTPUT_BITS_PER_RUN * runs)
    t = source.bits(certificate.t_length)
    output = EXTRACTOR.extract(x, _block_bits(y_packed, runs, block), t, certificate.output_bits,
                               certificate.device_min_entropy, certificate.t_min_entropy,
                               certificate.log2_extractor_error)
    return ProtocolIIResult(status=STATUS_CERTIFIED, output=output, required_runs=runs,
                            required_blocks=blocks, reason="", **common)
