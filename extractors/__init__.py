"""Extractors: fast exact two-universal hashing, and two- and three-source extractors over GF(2).

Pure functions on bits, no physics; nothing here imports ``qdevices`` or ``protocols``.
Bit conventions (MSB-first bytes and words) are in :mod:`extractors.bits`; every error bound
is a statistical (trace) distance, half the ``||.||_1`` of paper 004 eq. (3), except in
:mod:`extractors.models` (the certificates' extractor models), which work in ``||.||_1``.

The public names below are imported from their submodules on first use (PEP 562 module
``__getattr__``), so ``from extractors import toeplitz_hash`` loads only what Toeplitz hashing
needs.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Public name -> the submodule defining it.
_SOURCES = {
    **dict.fromkeys(("as_bits", "pack_bits", "read_bits", "unpack_bits", "write_bits"), "bits"),
    **dict.fromkeys(("ExtractorInputError", "InsufficientEntropyError"), "errors"),
    **dict.fromkeys(("CyclicShiftExtractor", "PolynomialHashExtractor", "ThreeSourceByConcatenation",
                     "TwoSourceExtractorModel"), "models"),
    **dict.fromkeys(("PolynomialHashParameters", "polynomial_hash_extract", "polynomial_hash_parameters"),
                    "polynomial_hash"),
    **dict.fromkeys(("ArrayWordSource", "FileWordSource", "cyclic_shift_extract_stream"), "streaming"),
    **dict.fromkeys(("ThreeSourceParameters", "three_source_extract", "three_source_parameters"), "three_source"),
    **dict.fromkeys(("ToeplitzParameters", "toeplitz_hash", "toeplitz_parameters", "toeplitz_seed_length"),
                    "toeplitz"),
    **dict.fromkeys(("TwoSourceParameters", "cyclic_shift_extract", "cyclic_shift_parameters", "extract_two_source",
                     "inner_product_extract", "inner_product_parameters", "zero_pad"), "two_source"),
}

__all__ = sorted(_SOURCES)


def __getattr__(name: str) -> Any:
    if name not in _SOURCES:
        raise AttributeError(f"module 'extractors' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"extractors.{_SOURCES[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SOURCES))
