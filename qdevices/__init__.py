"""qdevices: what produces Bell-test data.

Quantum devices built from Qiskit circuits (:class:`ChainedBellDevice` for paper 000's chained
Bell test, :class:`FourPartyDevice` for paper 004's four-party test), non-quantum boxes, and
protocol randomness. Every device is a vectorised black box ``measure(inputs) -> outputs``.
"""

from .boxes import ChainedPRBox, LocalChainedDevice, LocalFourPartyDevice
from .devices import BlackBox, ChainedBellDevice, FourPartyDevice, QuantumDevice, TabulatedBox
from .errors import DeviceInputError
from .randomness import Randomness
from .sources import (NAMED_STRATEGIES, FileSource, HistorySource, IIDSource, SourceExhaustedError,
                      SourceInputError, SVSource, check_sv_eps, named_source)

__all__ = [
    "BlackBox",
    "ChainedBellDevice",
    "ChainedPRBox",
    "DeviceInputError",
    "FourPartyDevice",
    "LocalChainedDevice",
    "FileSource",
    "HistorySource",
    "IIDSource",
    "LocalFourPartyDevice",
    "NAMED_STRATEGIES",
    "QuantumDevice",
    "Randomness",
    "SVSource",
    "SourceExhaustedError",
    "SourceInputError",
    "TabulatedBox",
    "check_sv_eps",
    "named_source",
]
