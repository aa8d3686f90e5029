"""Extractors: fast exact two-universal hashing, and two- and three-source extractors over GF(2).

Pure functions on bits, no physics; nothing here imports ``qdevices`` or ``protocols``.
Bit conventions (MSB-first bytes and words) are in :mod:`extractors.bits`; every error bound
is a statistical (trace) distance, half the ``||.||_1`` of paper 004 eq. (3), except in
:mod:`extractors.models` (the certificates' extractor models), which work in ``||.||_1``.
"""

from extractors.bits import as_bits, pack_bits, read_bits, unpack_bits, write_bits
from extractors.errors import ExtractorInputError, InsufficientEntropyError
from extractors.models import (
    CyclicShiftExtractor,
    PolynomialHashExtractor,
    ThreeSourceByConcatenation,
    TwoSourceExtractorModel,
)
from extractors.polynomial_hash import (
    PolynomialHashParameters,
    polynomial_hash_extract,
    polynomial_hash_parameters,
)
from extractors.streaming import (
    ArrayWordSource,
    FileWordSource,
    cyclic_shift_extract_stream,
)
from extractors.three_source import (
    ThreeSourceParameters,
    three_source_extract,
    three_source_parameters,
)
from extractors.toeplitz import (
    ToeplitzParameters,
    toeplitz_hash,
    toeplitz_parameters,
    toeplitz_seed_length,
)
from extractors.two_source import (
    TwoSourceParameters,
    cyclic_shift_extract,
    cyclic_shift_parameters,
    extract_two_source,
    inner_product_extract,
    inner_product_parameters,
    zero_pad,
)

__all__ = [
    "ArrayWordSource",
    "CyclicShiftExtractor",
    "PolynomialHashExtractor",
    "ThreeSourceByConcatenation",
    "TwoSourceExtractorModel",
    "ExtractorInputError",
    "FileWordSource",
    "InsufficientEntropyError",
    "ThreeSourceParameters",
    "ToeplitzParameters",
    "TwoSourceParameters",
    "cyclic_shift_extract",
    "cyclic_shift_extract_stream",
    "cyclic_shift_parameters",
    "extract_two_source",
    "inner_product_extract",
    "inner_product_parameters",
    "three_source_extract",
    "three_source_parameters",
    "toeplitz_hash",
    "toeplitz_parameters",
    "toeplitz_seed_length",
    "as_bits",
    "pack_bits",
    "read_bits",
    "unpack_bits",
    "write_bits",
    "zero_pad",
]
