"""Randomness-amplification entry points with the defaults of ``bellbox amplify``.

The functions of :mod:`protocols.amplification` take every parameter explicitly; these take the
CLI's defaults, so a script and ``bellbox amplify`` give the same numbers for the same inputs:

* ``error = 2**-40`` (:data:`DEFAULT_ERROR`), the required bound on ``d_comp p(ACC)``
  (paper 004 eqs. (112), (181));
* ``delta = default_delta(noise, sv_eps)``
  (:func:`protocols.amplification.protocol1.default_delta`), a completeness choice 10% above the
  white-noise expectation of ``L_n``; ``noise`` is the device's white noise (its ``noise``
  attribute for runs, 0 for local boxes, as ``--noise 0``);
* the certificate chain ``certificate="improved"`` (``--certificate improved``:
  :mod:`protocols.amplification.improved_certificate` for Protocol I,
  :mod:`protocols.amplification.improved_protocol2` for Protocol II); ``"paper"`` is paper 004's
  Theorem 20 / Theorem 27 chain (:mod:`protocols.amplification.certificate`,
  :mod:`protocols.amplification.protocol2`);
* the extractor of the Protocol I certificate:
  :class:`protocols.amplification.protocol1.CyclicShiftExtractor`.

Explicit arguments are passed through unchanged, so no certified number depends on the entry
point. Parameters are keyword-only after the first ones, since their order differs from the
explicit functions'.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from protocols.amplification import certificate as _certificate
from protocols.amplification import improved_protocol2 as _improved_protocol2
from protocols.amplification import protocol1 as _protocol1
from protocols.amplification import protocol2 as _protocol2
from protocols.amplification import records as _records
from protocols.bell.four_party import check_delta

#: ``bellbox amplify --error`` default: the required bound on ``d_comp p(ACC)``.
DEFAULT_ERROR = 2.0**-40
#: ``bellbox amplify --certificate`` default: the certificate chain of both protocols.
DEFAULT_CERTIFICATE = _protocol1.DEFAULT_CERTIFICATE


def resolve_delta(delta: float | None, sv_eps: float, noise: float = 0.0) -> float:
    """``delta`` if given, else the CLI default ``default_delta(noise, sv_eps)``; checked."""
    return check_delta(_protocol1.default_delta(noise, sv_eps) if delta is None else delta)


def _check_chain(certificate: str, extractor: Any) -> str:
    """``certificate`` must be ``"improved"`` or ``"paper"``, the improved chain with the
    cyclic-shift extractor (``extractor=None``): :func:`protocols.amplification.protocol1.
    check_chain`."""
    return _protocol1.check_chain(certificate, extractor or _protocol1.CyclicShiftExtractor())


def _device_noise(device: Any) -> float:
    return float(getattr(device, "noise", 0.0))


def plan_protocol1(output_bits: int = 1, *, sv_eps: float, error: float = DEFAULT_ERROR,
                   delta: float | None = None, noise: float = 0.0,
                   certificate: str = DEFAULT_CERTIFICATE,
                   extractor: _certificate.TwoSourceExtractorModel | None = None) -> Any:
    """Smallest ``n`` certifying ``output_bits`` at ``d_comp p(ACC) <= error`` for Protocol I, as
    ``bellbox amplify --plan``: :func:`protocols.amplification.improved_certificate.plan_protocol1_improved`
    (``certificate="improved"``, the extractor needing the fewest runs) or
    :func:`protocols.amplification.certificate.plan_protocol1` (``"paper"``)."""
    delta = resolve_delta(delta, sv_eps, noise)
    if _check_chain(certificate, extractor) == "improved":
        from protocols.amplification.improved_certificate import plan_protocol1_improved

        return plan_protocol1_improved(output_bits, error, sv_eps, delta)
    return _certificate.plan_protocol1(output_bits, error, sv_eps, delta,
                                       extractor or _protocol1.CyclicShiftExtractor())


def plan_protocol2(output_bits: int = 1, *, sv_eps: float, error: float = DEFAULT_ERROR,
                   delta: float | None = None, noise: float = 0.0,
                   certificate: str = DEFAULT_CERTIFICATE, route: str | None = None) -> Any:
    """Sizes ``(n, N2)`` for Protocol II, as ``bellbox amplify --plan --protocol 2``:
    :func:`protocols.amplification.improved_protocol2.best_plan` (``certificate="improved"``;
    ``route=None`` picks the route with the fewest device runs ``n (1 + N2)``) or
    :func:`protocols.amplification.protocol2.plan_protocol2` (``"paper"``, no route)."""
    delta = resolve_delta(delta, sv_eps, noise)
    if _check_route(certificate, route) == "improved":
        return _improved_protocol2.best_plan(output_bits, error, sv_eps, delta, route)
    return _protocol2.plan_protocol2(output_bits, error, sv_eps, delta)


def _check_route(certificate: str, route: str | None) -> str:
    """A Protocol II chain; ``route`` is the improved chain's only (:func:`_check_chain`)."""
    if _check_chain(certificate, None) == "paper" and route is not None:
        raise _certificate.CertificateInputError(
            f"route applies to certificate='improved' only, got route={route!r} with 'paper'")
    return certificate


def certify_protocol1(runs: int, *, sv_eps: float, output_bits: int = 1, delta: float | None = None,
                      noise: float = 0.0, certificate: str = DEFAULT_CERTIFICATE,
                      extractor: _certificate.TwoSourceExtractorModel | None = None) -> Any:
    """The Protocol I certificate of ``n = runs`` runs for ``output_bits`` bits, the one
    :func:`run_protocol1` would use (:func:`protocols.amplification.protocol1.certificate_for_runs`):
    the improved chain with the better of its extractors, or
    :func:`protocols.amplification.certificate.certify_protocol1` (Theorem 20 made explicit)."""
    delta = resolve_delta(delta, sv_eps, noise)
    return _protocol1.certificate_for_runs(runs, sv_eps, delta, DEFAULT_ERROR, output_bits,
                                           extractor or _protocol1.CyclicShiftExtractor(), certificate)


def run_protocol1(device: Any, source: Any, runs: int, *, delta: float | None = None,
                  error: float = DEFAULT_ERROR, output_bits: int | None = None,
                  extractor: _certificate.TwoSourceExtractorModel | None = None,
                  certificate: str = DEFAULT_CERTIFICATE,
                  progress: Callable[[int], None] | None = None,
                  control: Any = None) -> _protocol1.AmplificationResult:
    """Protocol I on ``device`` with settings and ``t`` from the SV ``source``
    (:func:`protocols.amplification.protocol1.run_protocol1`); ``output_bits=None`` outputs the
    largest certified number of bits."""
    return _protocol1.run_protocol1(device, source, runs,
                                    resolve_delta(delta, source.eps, _device_noise(device)), error,
                                    extractor or _protocol1.CyclicShiftExtractor(),
                                    output_bits=output_bits, progress=progress, control=control,
                                    certificate=certificate)


def run_protocol2(first_device: Any, second_device: Any, source: Any, runs: int, blocks: int, *,
                  delta: float | None = None, error: float = DEFAULT_ERROR,
                  output_bits: int | None = None, certificate: str = DEFAULT_CERTIFICATE,
                  route: str | None = None,
                  progress: Callable[[int], None] | None = None) -> _protocol2.ProtocolIIResult:
    """Protocol II on two devices (:func:`protocols.amplification.protocol2.run_protocol2`,
    chain ``certificate``, improved ``route`` default ``"chain-rule"``, as the CLI); the default
    ``delta`` uses device 1's noise, as the CLI's one ``--noise`` for both."""
    _check_route(certificate, route)
    return _protocol2.run_protocol2(first_device, second_device, source, runs, blocks,
                                    resolve_delta(delta, source.eps, _device_noise(first_device)),
                                    error, output_bits=output_bits, progress=progress,
                                    certificate=certificate, route=route or "chain-rule")


def amplify_records(records: _records.AmplificationRecords, *, sv_eps: float,
                    delta: float | None = None, error: float = DEFAULT_ERROR,
                    output_bits: int | None = None, t: np.ndarray | None = None,
                    label: str = "records", certificate: str = DEFAULT_CERTIFICATE
                    ) -> _protocol1.AmplificationResult:
    """Protocol I steps 2-3 on recorded runs with the claimed SV bias ``sv_eps``
    (:func:`protocols.amplification.records.post_process_records`, as ``amplify --records``),
    with the certificate chain ``certificate`` (default improved, as the CLI; ``"paper"``:
    Theorem 20)."""
    return _records.post_process_records(records, sv_eps, resolve_delta(delta, sv_eps), error,
                                         _protocol1.CyclicShiftExtractor(), output_bits=output_bits,
                                         t=t, label=label,
                                         certificate=_check_chain(certificate, None))
