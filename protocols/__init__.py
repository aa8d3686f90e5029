"""bellbox protocols: device-independent QKD (paper 000) and randomness amplification (paper 004).

The public API, with the defaults of the ``bellbox`` CLI (README, "Python API"):

* DI-QKD: :class:`QKDParameters` (``gamma="auto"`` as ``bellbox qkd``), :func:`run_diqkd`
  (steps 1-4 on a device), :func:`distill_key` (steps 2-4 on records), :func:`load_records`,
  :func:`asymptotic_rate`, :func:`finite_key_length`, :func:`expected_key_length`,
  :func:`rounds_for_key`, :func:`optimal_gamma`, :func:`quantum_key_length`,
  :func:`collect_tallies` / :func:`distill_tallies` (streamed steps 1-2, then 2-4).
* The CHSH protocol (quantum adversaries): :class:`CHSHParameters`, :func:`run_chsh`,
  :func:`distill_chsh_key` (``protocols.qkd.chsh_keyrate.key_from_statistics`` for an
  experimenter's S and QBER).
* Amplification (:mod:`protocols.api`: error ``2**-40``, the CLI's default delta and
  certificate chain):
  :func:`plan_protocol1`, :func:`plan_protocol2`, :func:`certify_protocol1`,
  :func:`run_protocol1`, :func:`run_protocol2`, :func:`load_amplification_records`,
  :func:`amplify_records`, :func:`lemma11_bound`.
* Results: :class:`ProtocolResult` (``status``, ``success``, ``message``, ``randomness``,
  ``to_dict()``), :class:`KeyResult`, :class:`QKDResult`, :class:`CHSHResult`,
  :class:`AmplificationResult`, :class:`ProtocolIIResult`.

Names are imported on first use (PEP 562), so ``import protocols`` stays cheap for the CLI.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "QKDParameters": "protocols.qkd.protocol",
    "QKDResult": "protocols.qkd.protocol",
    "QKDInputError": "protocols.qkd.protocol",
    "run_diqkd": "protocols.qkd.protocol",
    "distill_key": "protocols.qkd.protocol",
    "optimal_gamma": "protocols.qkd.protocol",
    "collect_tallies": "protocols.qkd.protocol",
    "distill_tallies": "protocols.qkd.protocol",
    "quantum_key_length": "protocols.qkd.quantum_keyrate",
    "CHSHParameters": "protocols.qkd.chsh",
    "CHSHResult": "protocols.qkd.chsh",
    "run_chsh": "protocols.qkd.chsh",
    "distill_chsh_key": "protocols.qkd.chsh",
    "KeyResult": "protocols.results",
    "asymptotic_rate": "protocols.qkd.keyrate",
    "finite_key_length": "protocols.qkd.keyrate",
    "expected_key_length": "protocols.qkd.keyrate",
    "rounds_for_key": "protocols.qkd.keyrate",
    "load_records": "protocols.records",
    "QKDRecords": "protocols.records",
    "DEFAULT_ERROR": "protocols.api",
    "DEFAULT_CERTIFICATE": "protocols.api",
    "plan_protocol1": "protocols.api",
    "plan_protocol2": "protocols.api",
    "certify_protocol1": "protocols.api",
    "run_protocol1": "protocols.api",
    "run_protocol2": "protocols.api",
    "amplify_records": "protocols.api",
    "load_amplification_records": "protocols.amplification.records",
    "AmplificationResult": "protocols.amplification.protocol1",
    "CyclicShiftExtractor": "protocols.amplification.protocol1",
    "default_delta": "protocols.amplification.protocol1",
    "ProtocolIIResult": "protocols.amplification.protocol2",
    "lemma11_bound": "protocols.bell.four_party",
    "ProtocolResult": "protocols.results",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'protocols' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return list(__all__)
