"""Protocol I of paper 004 (Fig. 1): DI randomness amplification from one four-party device.

1. The eps-SV source chooses the settings ``u_1..u_n`` (4 bits a run); the device answers
   ``x_1..x_n``.
2. Test: accept iff ``L_n = (1/n) sum_i B(x_i, u_i) <= delta`` (eqs. (63)-(64)).
3. On acceptance, a two-source extractor (or the short-seed polynomial hash) is applied to ``x``
   (``4n`` bits) and further SV bits ``t``.

Bits are output only when the certificate (by default the improved chain of
:mod:`protocols.amplification.improved_certificate`, which also picks the extractor; or paper
004's chain, :mod:`protocols.amplification.certificate`) bounds ``d_comp p(ACC)`` (eq. (112)) by
the requested error. The certificate depends only on
``(n, eps, delta, m)``, so it is computed before the device runs; rounds are streamed in chunks
and the device outputs are kept (packed, ``n/2`` bytes) only when they will be extracted, or
(with a :class:`qdevices.jobs.RunControl`) all settings are drawn first and measured in
checkpointed jobs. Steps 2-3 are one function, :func:`conclude_protocol1`, for device runs and
recorded data (:mod:`protocols.amplification.records`) alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np

from extractors.models import CyclicShiftExtractor, TwoSourceExtractorModel
from protocols.amplification.certificate import (ProtocolICertificate, certify_protocol1,
                                                 failure_reason, largest_certified_output,
                                                 plan_protocol1)
from protocols.amplification.certificate_base import (check_error, check_runs,
                                                      largest_meeting_output)
from protocols.amplification.improved_certificate import (EXTRACTOR_MODELS, EXTRACTORS,
                                                          ImprovedProtocolICertificate,
                                                          certify_protocol1_improved,
                                                          plan_protocol1_improved)
from protocols.bell.four_party import BellTestResult, acceptance, bell_indicator, check_delta
from protocols.results import AmplificationOutput
from qdevices.jobs import RunControl, measure_in_jobs

STATUS_CERTIFIED = "certified"
STATUS_NOT_CERTIFIED = "not certified"
STATUS_ABORTED = "aborted"
DEFAULT_CHUNK_RUNS = 1 << 20
#: Most runs measured in jobs (checkpoint/resume): settings and outputs are kept, ~9 bytes a run.
MAX_JOB_RUNS = 1 << 25


class AmplificationInputError(ValueError):
    """A Protocol I run cannot proceed with the given input (the message says why)."""


def default_delta(noise: float, eps: float) -> float:
    """A completeness choice (not a security parameter): 10% above the largest expected ``L_n``
    of the white-noise device, ``4 xi (1/2 + eps)**4`` (8 tested settings, each at most
    ``(1/2 + eps)**4`` likely, each violated with probability ``xi/2``)."""
    return 1.1 * 4.0 * noise * (0.5 + eps) ** 4


@dataclass(frozen=True)
class AmplificationResult(AmplificationOutput):
    """Outcome of Protocol I. ``output`` holds the bits (0/1 ``uint8``) only when certified.

    The shared result vocabulary (:mod:`protocols.results`): ``success`` is ``status ==
    "certified"``, ``message`` is ``reason``, ``randomness`` is ``"os"`` or ``"seeded (not
    secure)"`` (from ``secure``); ``sv_eps`` is the SV bias (the field ``eps``).
    """

    SUCCESS_STATUS: ClassVar[str] = STATUS_CERTIFIED
    THEOREM: ClassVar[str] = "paper 004 Theorem 20 (eq. (112)), explicit chain"

    status: str
    reason: str
    runs: int
    eps: float
    source: str
    device: dict[str, Any]
    secure: bool
    bell_test: BellTestResult
    requested_error: float
    certificate: ProtocolICertificate
    output: np.ndarray | None
    required_runs: int | None

    def _json_fields(self, fields: dict[str, Any]) -> dict[str, Any]:
        """The report's flat fields (the output bits are never included)."""
        return {
            "protocol": 1,
            "status": self.status,
            "reason": self.reason,
            "runs": self.runs,
            "sv_eps": self.eps,
            "source": self.source,
            "device": self.device,
            "bell_average": self.bell_test.bell_average,
            "delta": self.bell_test.delta,
            "violations": self.bell_test.violations,
            "output_bits": self.output_bits,
            "extractor": self.certificate.extractor,
            "requested_error": self.requested_error,
            "error_bound": self.certificate.error_bound,
            "log2_error_bound": self.certificate.log2_error_bound,
            "required_runs": self.required_runs,
            "certificate": self.certificate.to_dict(),
        }


CERTIFICATE_CHAINS = ("improved", "paper")
"""``"improved"`` (the default): docs/amplification_improved_certificate.md
(:mod:`protocols.amplification.improved_certificate`), which compares the cyclic shift and the
short-seed polynomial hash and runs the one that certifies more (:func:`_certificate_for`);
``"paper"``: paper 004's Theorem 20 chain (:mod:`protocols.amplification.certificate`) with the
given two-source extractor."""
DEFAULT_CERTIFICATE = "improved"


def check_chain(certificate: str, extractor: TwoSourceExtractorModel) -> str:
    if certificate not in CERTIFICATE_CHAINS:
        raise AmplificationInputError(f"certificate must be one of {CERTIFICATE_CHAINS}, "
                                      f"got {certificate!r}")
    if certificate == "improved" and not isinstance(extractor, CyclicShiftExtractor):
        raise AmplificationInputError(f"certificate='improved' chooses its own extractor (pass the "
                                      f"cyclic-shift model), got "
                                      f"{getattr(extractor, 'name', extractor)!r}")
    return certificate


def _best_improved(certify: Callable[[str], ImprovedProtocolICertificate]
                   ) -> ImprovedProtocolICertificate:
    """The certificate with the smallest bound over :data:`EXTRACTORS` (ties: the first listed)."""
    return min((certify(name) for name in EXTRACTORS), key=lambda c: c.log2_error_bound)


def _largest_improved(runs: int, eps: float, delta: float, error: float
                      ) -> ImprovedProtocolICertificate:
    """Over :data:`EXTRACTORS`, the certificate of the largest ``m`` meeting ``error`` (ties: the
    smaller bound, then the first listed)."""
    found = [largest_meeting_output(
        lambda bits, name=name: certify_protocol1_improved(runs, eps, delta, bits, extractor=name),
        error, 4 * runs) for name in EXTRACTORS]
    return min(found, key=lambda item: (-item[0], item[1].log2_error_bound))[1]


def certificate_for_runs(runs: int, eps: float, delta: float, error: float,
                     output_bits: int | None, extractor: TwoSourceExtractorModel,
                     certificate: str = DEFAULT_CERTIFICATE
                     ) -> ProtocolICertificate | ImprovedProtocolICertificate:
    """The chosen chain's certificate; ``output_bits=None``: the largest certified ``m``. The
    improved chain takes the better of its extractors (its ``extractor`` field names it)."""
    if check_chain(certificate, extractor) == "improved":
        if output_bits is None:
            return _largest_improved(runs, eps, delta, error)
        return _best_improved(lambda name: certify_protocol1_improved(runs, eps, delta, output_bits,
                                                                      extractor=name))
    if output_bits is None:
        return largest_certified_output(runs, error, eps, delta, extractor)[1]
    return certify_protocol1(runs, eps, delta, output_bits, extractor)


def _running_extractor(certificate: ProtocolICertificate | ImprovedProtocolICertificate,
                       extractor: TwoSourceExtractorModel) -> TwoSourceExtractorModel:
    """The extractor the certificate covers: the improved chain's own choice, else ``extractor``."""
    if isinstance(certificate, ImprovedProtocolICertificate):
        return EXTRACTOR_MODELS[certificate.extractor]
    return extractor


def _not_certified(certificate: ProtocolICertificate | ImprovedProtocolICertificate,
                   requested: int, error: float, eps: float, delta: float,
                   extractor: TwoSourceExtractorModel) -> tuple[int | None, str]:
    """``(required_runs, reason)`` for a certificate that does not meet ``error``, from the
    planner of the same chain."""
    if isinstance(certificate, ImprovedProtocolICertificate):
        plan = plan_protocol1_improved(requested, error, eps, delta, extractors=EXTRACTORS)
        reason = (f"improved chain: d_comp p(ACC) <= 2^{certificate.log2_error_bound:.2f} "
                  f"> error = {error:g}")
    else:
        plan = plan_protocol1(requested, error, eps, delta, extractor)
        reason = failure_reason(certificate, error)
    if plan.required_runs is None:
        reason += f"; {plan.reason}"
    return plan.required_runs, reason


@dataclass(frozen=True)
class Provenance:
    """Where the runs of Protocol I came from: the SV source's claimed ``eps`` and name, whether
    its randomness is secure (not a seeded stream), and the device description."""

    eps: float
    source: str
    secure: bool
    device: dict[str, Any]


def conclude_protocol1(violations: int, packed_outputs: np.ndarray | None,
                       certificate: ProtocolICertificate, delta: float, error: float,
                       output_bits: int | None, extractor: TwoSourceExtractorModel,
                       t_bits: Callable[[int], np.ndarray], provenance: Provenance
                       ) -> AmplificationResult:
    """Steps 2-3 of Protocol I after the ``n = certificate.runs`` runs: test ``L_n <= delta``
    (eq. (64)), then extract ``certificate.output_bits`` bits only if ``certificate`` meets
    ``error`` (eq. (112)).

    ``packed_outputs`` holds ``np.packbits`` of the ``4n`` device bits (run-major) and may be
    ``None`` when the certificate does not meet ``error``; ``t_bits(L)`` returns the next ``L``
    SV bits (eq. (118)), called only when bits are extracted. Shared by device runs and
    recorded data, so both output exactly under the same conditions.
    """
    runs = certificate.runs
    test = acceptance(violations, runs, delta)
    common = dict(runs=runs, eps=provenance.eps, source=provenance.source,
                  device=provenance.device, secure=provenance.secure, bell_test=test,
                  requested_error=error, certificate=certificate)
    if not test.accepted:
        return AmplificationResult(status=STATUS_ABORTED, output=None, required_runs=None,
                                   reason=f"L_n = {test.bell_average:.6g} > delta = {delta:g}",
                                   **common)
    if not certificate.meets(error):
        requested = output_bits if output_bits is not None else 1
        required, reason = _not_certified(certificate, requested, error, provenance.eps, delta,
                                          extractor)
        return AmplificationResult(status=STATUS_NOT_CERTIFIED, output=None,
                                   required_runs=required, reason=reason, **common)
    if packed_outputs is None:
        raise AmplificationInputError("packed_outputs must hold the device bits when the "
                                      "certificate meets the error, got None")
    x = np.unpackbits(packed_outputs, count=4 * runs)
    output = _running_extractor(certificate, extractor).extract(
        x, t_bits(certificate.t_length), certificate.output_bits)
    return AmplificationResult(status=STATUS_CERTIFIED, output=output, required_runs=runs,
                               reason="", **common)


def post_process_runs(settings: np.ndarray, outputs: np.ndarray, delta: float, error: float,
                      extractor: TwoSourceExtractorModel, t_bits: Callable[[int], np.ndarray],
                      provenance: Provenance, output_bits: int | None = None,
                      certificate: str = DEFAULT_CERTIFICATE) -> AmplificationResult:
    """Protocol I steps 2-3 on all ``n`` runs at once: ``settings`` and ``outputs`` are ``(n, 4)``
    0/1 arrays (recorded data, or a run measured in jobs). Certificate first (it depends only
    on ``(n, eps, delta, m)``, chain ``certificate``: :data:`CERTIFICATE_CHAINS`), then
    :func:`conclude_protocol1`."""
    runs, delta, error = check_runs(int(np.shape(settings)[0])), check_delta(delta), check_error(error)
    chosen = certificate_for_runs(runs, provenance.eps, delta, error, output_bits, extractor,
                              certificate)
    return conclude_protocol1(*_tally(settings, outputs), chosen, delta, error, output_bits,
                              extractor, t_bits, provenance)


def _tally(settings: np.ndarray, outputs: np.ndarray) -> tuple[int, np.ndarray]:
    """``(n L_n, packed outputs)`` of ``(n, 4)`` settings and outputs (eq. (64))."""
    violations = int(bell_indicator(outputs, settings).sum())
    return violations, np.packbits(np.asarray(outputs, dtype=np.uint8).reshape(-1))


def _describe(device: Any) -> dict[str, Any]:
    return device.describe() if hasattr(device, "describe") else {}


def _reproducible(source: Any) -> bool:
    """Whether drawing again gives the same bits: seeded simulated sources and bit files."""
    from qdevices.sources import FileSource

    return isinstance(source, FileSource) or not source.secure


def run_protocol1(device: Any, source: Any, runs: int, delta: float, error: float,
                  extractor: TwoSourceExtractorModel, output_bits: int | None = None,
                  chunk_runs: int = DEFAULT_CHUNK_RUNS,
                  progress: Callable[[int], None] | None = None,
                  control: RunControl | None = None, certificate: str = DEFAULT_CERTIFICATE
                  ) -> AmplificationResult:
    """Run Protocol I on ``device`` (``measure((N, 4) settings) -> (N, 4) outputs``) with
    settings and extractor bits from the SV ``source``.

    ``output_bits=None`` outputs the largest certified number of bits; ``certificate`` picks the
    chain (:data:`CERTIFICATE_CHAINS`).

    Two ways to measure, with the same test, certificate and extraction
    (:func:`conclude_protocol1`):

    * ``control=None``: streamed in chunks of ``chunk_runs`` runs; memory is one chunk plus the
      packed outputs (``n/2`` bytes) when they will be extracted. Any ``n``.
    * ``control`` given (:class:`qdevices.jobs.RunControl`): the settings of all ``n`` runs are
      drawn first, in order, from the (history-dependent) source, then measured in jobs by
      :func:`qdevices.jobs.measure_in_jobs` with checkpoint, resume and retries. Each job uses
      its own device stream, so the outcomes differ from the streamed path's for the same seed
      (both are reproducible; a resumed run equals the uninterrupted run with ``control``).
      Memory is about ``9 n`` bytes, so ``n <= MAX_JOB_RUNS``. On resume the settings are
      drawn again (so ``t`` comes from the same source position as in an uninterrupted run)
      and, for a reproducible source, must equal the checkpoint's.
    """
    runs, delta, error = check_runs(runs), check_delta(delta), check_error(error)
    if control is not None and runs > MAX_JOB_RUNS:
        raise AmplificationInputError(
            f"runs must be <= {MAX_JOB_RUNS} to measure in jobs (checkpoint/resume), got {runs}:"
            " all settings are drawn first and kept; run without checkpointing (streamed) or "
            "in several runs")
    chosen = certificate_for_runs(runs, source.eps, delta, error, output_bits, extractor,
                              certificate)
    provenance = Provenance(eps=source.eps, source=source.name, secure=bool(source.secure),
                            device=_describe(device))
    if control is not None:
        settings, outputs = _measure_in_jobs(device, source, runs, delta, error, output_bits,
                                             control, progress)
        return conclude_protocol1(*_tally(settings, outputs), chosen, delta, error,
                                  output_bits, extractor, source.bits, provenance)
    keep = chosen.meets(error)
    violations = 0
    kept: list[np.ndarray] = []
    for start in range(0, runs, chunk_runs):
        count = min(chunk_runs, runs - start)
        settings = source.settings(count)
        outputs = np.asarray(device.measure(settings), dtype=np.uint8)
        violations += int(bell_indicator(outputs, settings).sum())
        if keep:
            kept.append(np.packbits(outputs.reshape(-1)))
        if progress is not None:
            progress(count)
    packed = np.concatenate(kept) if keep else None
    return conclude_protocol1(violations, packed, chosen, delta, error, output_bits,
                              extractor, source.bits, provenance)


def _measure_in_jobs(device: Any, source: Any, runs: int, delta: float, error: float,
                     output_bits: int | None, control: RunControl,
                     progress: Callable[[int], None] | None) -> tuple[np.ndarray, np.ndarray]:
    """Draw all settings, then measure them in jobs; returns ``(settings, outputs)``."""
    settings = source.settings(runs)
    parameters = {"runs": runs, "sv_eps": source.eps, "source": source.name, "delta": delta,
                  "error": error, "output_bits": output_bits}
    metadata = {"protocol": "amplification-1", "parameters": parameters, **control.metadata}
    run = measure_in_jobs(device, settings, replace(control, metadata=metadata),
                          progress=progress)
    if control.resume is not None:
        if run.inputs.shape != (runs, 4):
            raise AmplificationInputError(f"resume: the checkpoint has inputs of shape "
                                          f"{run.inputs.shape}, this run needs ({runs}, 4)")
        if _reproducible(source) and not np.array_equal(run.inputs, settings):
            raise AmplificationInputError(
                "resume: the checkpoint's settings differ from those drawn from this source; "
                "resume with the seed (or SV file) and parameters of the original run")
    return run.inputs.astype(np.uint8), run.outputs
