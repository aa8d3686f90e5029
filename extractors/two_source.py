r"""Two-source extractors for independent min-entropy sources (paper 004, Definition 4).

Paper 004, Lemma 5 (i) only asserts a non-explicit extractor; these are explicit ones with
explicit bounds (:mod:`extractors.bounds`).

**Cyclic shifts** (Dodis, Elbaz, Oliveira & Raz, "Improved randomness extraction from two
independent sources", RANDOM 2004). For ``n`` a prime with 2 a primitive root and
``1 <= m <= n - 1``:

.. math::  z_i = \bigoplus_{k=0}^{n-1} x_k\, y_{(k + i) \bmod n}, \qquad i = 0, \dots, m - 1,

the inner product of ``x`` with ``y`` cyclically shifted left by ``i`` (the same convention as
cryptomite's ``Dodis``). Rank property: a nonempty sum of at most ``n - 1`` distinct shifts is
multiplication by ``a(t) != 0`` in ``GF(2)[t]/(t^n - 1)``, and ``t^n - 1 = (t + 1) Phi_n(t)`` with
``Phi_n`` irreducible of degree ``n - 1`` (2 primitive mod ``n``); ``a`` is neither 0 nor a
multiple of ``Phi_n`` (which has ``n`` terms), so its rank is at least ``n - 1``: rank deficiency ``r = 1``.

**Inner product over GF(2^k)^l** (Chor & Goldreich 1988; Vazirani 1987). Each source is cut
into ``l`` blocks of ``k`` bits, block bits ``b_0 ... b_{k-1}`` read as the field element with
integer representation ``sum_t b_t 2^{k-1-t}`` (polynomial basis, MSB-first) of
``GF(2^k) = GF(2)[t]/(p(t))``, ``p`` the lexicographically smallest irreducible polynomial of
degree ``k`` (``galois.irreducible_poly(2, k, method="min")``). The output is the first ``m <= k``
bits (MSB-first) of ``sum_j x_j y_j``. Every nonzero GF(2)-linear functional of the output is
``Tr(a <x, y>)`` with ``a != 0``, a bilinear form of full rank ``n``: rank deficiency ``r = 0``.

Sources of unequal or unsuitable lengths are zero-padded (an injective map, so min-entropy is
unchanged); the calculators report the padded length ``n`` that enters the bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np

from extractors import bounds
from extractors.bits import as_bits
from extractors.errors import ExtractorInputError, InsufficientEntropyError, require_integer
from extractors.gf2_correlation import correlate
from extractors.primes import next_cyclic_length, require_cyclic_length

Construction = Literal["cyclic-shift", "inner-product"]

CYCLIC_SHIFT_RANK_DEFICIENCY = 1
INNER_PRODUCT_RANK_DEFICIENCY = 0
MAX_FIELD_DEGREE = 128  # galois needs ~8 s to find the degree-256 modulus, 0.3 s for 128

_REFERENCES = {
    "cyclic-shift": "Dodis, Elbaz, Oliveira, Raz, RANDOM 2004 (cyclic shifts, rank n-1)",
    "inner-product": "Chor-Goldreich 1988 / Vazirani 1987 (inner product over GF(2^k)^l)",
}
_MARKOV_REFERENCE = "; quantum-proof: Arnon-Friedman, Portmann, Scholz 2016, Thm. 1 (Markov model)"


@dataclass(frozen=True)
class TwoSourceParameters:
    """A two-source extraction plan and its security statement.

    ``error`` is the statistical-distance bound (``||.||_1`` of paper 004 eq. (3) is twice it)
    for independent sources with min-entropies at least ``min_entropies`` (conditioned on
    quantum side information in the Markov model when ``quantum_proof``), both zero-padded to
    ``input_length`` bits.
    """

    construction: Construction
    source_lengths: tuple[int, int]
    input_length: int
    output_length: int
    min_entropies: tuple[float, float]
    log2_error: float
    quantum_proof: bool
    field_degree: int | None
    reference: str

    @property
    def error(self) -> float:
        """The statistical-distance bound ``2 ** log2_error``."""
        return 2.0 ** self.log2_error


def cyclic_shift_extract(x: np.ndarray, y: np.ndarray, output_length: int) -> np.ndarray:
    """Dodis et al. cyclic-shift extractor ``z_i = XOR_k x_k y_{(k+i) mod n}`` (module docstring).

    ``x`` and ``y`` are 0/1 arrays of the same length ``n``, a prime with primitive root 2;
    ``1 <= output_length <= n - 1``.
    """
    x, y = _equal_length_bits(x, y)
    n = x.size
    require_cyclic_length(n, "input length n")
    _check_output_length(output_length, n - 1, f"n - 1 = {n - 1} (n = {n})")
    y_wrapped = np.concatenate([y, y[: output_length - 1]])
    return correlate(x, y_wrapped, output_length)


def inner_product_extract(x: np.ndarray, y: np.ndarray, output_length: int,
                          field_degree: int) -> np.ndarray:
    """Inner-product extractor over ``GF(2^k)^l`` (module docstring), first ``m`` bits.

    ``x`` and ``y`` are 0/1 arrays of the same length ``n = k * l``;
    ``1 <= output_length <= field_degree = k <= 128`` (MAX_FIELD_DEGREE).
    """
    x, y = _equal_length_bits(x, y)
    _check_field_degree(field_degree)
    if x.size % field_degree:
        raise ExtractorInputError(
            f"input length n = {x.size} must be a multiple of field_degree = {field_degree}"
        )
    _check_output_length(output_length, field_degree, f"field_degree = {field_degree}")
    field = _binary_field(field_degree)
    products = field(_field_elements(x, field_degree)) * field(_field_elements(y, field_degree))
    total = np.bitwise_xor.reduce(np.asarray(products))  # addition in GF(2^k) is XOR
    value = int(total)
    return np.array(
        [(value >> (field_degree - 1 - t)) & 1 for t in range(output_length)], dtype=np.uint8
    )


def cyclic_shift_parameters(n1: int, k1: float, n2: int, k2: float, error: float,
                            quantum_proof: bool = False,
                            output_length: int | None = None) -> TwoSourceParameters:
    """Output length (or check of a requested one) for the cyclic-shift extractor.

    Both sources are padded to ``n = next_cyclic_length(max(n1, n2))`` and the bound
    ``2^{(m + n + 1 - k1 - k2)/2 - 1}`` (classical) or its Markov-model version is applied
    (:mod:`extractors.bounds`, ``r = 1``). Raises :class:`InsufficientEntropyError` saying what
    min-entropy would be needed when no output (or not ``output_length`` bits) meets ``error``.
    """
    _check_sources(n1, k1, n2, k2, error)
    n = next_cyclic_length(max(n1, n2))
    return _plan("cyclic-shift", (n1, n2), n, (k1, k2), error, quantum_proof, output_length,
                 CYCLIC_SHIFT_RANK_DEFICIENCY, n - 1, None)


def inner_product_parameters(n1: int, k1: float, n2: int, k2: float, error: float,
                             quantum_proof: bool = False, output_length: int | None = None,
                             field_degree: int | None = None) -> TwoSourceParameters:
    """Output length (or check of a requested one) for the GF(2^k)^l inner-product extractor.

    Both sources are padded to ``n``, the least multiple of ``k`` that is ``>= max(n1, n2)``;
    bound with ``r = 0`` and ``m <= k``. Without ``field_degree``, every ``k`` in ``[1, 128]`` is
    tried and the one giving the longest output (then the smallest ``k``) is used; with
    ``output_length`` the ``k >= output_length`` needing the least padding (then the smallest).
    """
    _check_sources(n1, k1, n2, k2, error)
    longest = max(n1, n2)
    degrees = [field_degree] if field_degree is not None else range(1, MAX_FIELD_DEGREE + 1)
    if field_degree is not None:
        _check_field_degree(field_degree)
    elif output_length is not None:
        _check_output_length(output_length, MAX_FIELD_DEGREE, "the largest field degree")
        degrees = range(output_length, MAX_FIELD_DEGREE + 1)

    def supported(degree: int) -> int:
        return min(degree, bounds.max_output_length(padded_length(degree), k1, k2,
                                                    math.log2(error),
                                                    INNER_PRODUCT_RANK_DEFICIENCY, quantum_proof))

    def padded_length(degree: int) -> int:
        return -(-longest // degree) * degree

    if output_length is None:
        degree = max(degrees, key=lambda d: (supported(d), -d))
    else:
        degree = min(degrees, key=lambda d: (padded_length(d), d))
    n = padded_length(degree)
    return _plan("inner-product", (n1, n2), n, (k1, k2), error, quantum_proof, output_length,
                 INNER_PRODUCT_RANK_DEFICIENCY, degree, degree)


def extract_two_source(x: np.ndarray, y: np.ndarray, parameters: TwoSourceParameters) -> np.ndarray:
    """Run a plan: zero-pad both sources to ``parameters.input_length`` and extract."""
    x = as_bits(x, "x")
    y = as_bits(y, "y")
    if (x.size, y.size) != parameters.source_lengths:
        raise ExtractorInputError(
            f"source lengths must be {parameters.source_lengths} as planned, got {(x.size, y.size)}"
        )
    x, y = zero_pad(x, parameters.input_length), zero_pad(y, parameters.input_length)
    if parameters.construction == "cyclic-shift":
        return cyclic_shift_extract(x, y, parameters.output_length)
    return inner_product_extract(x, y, parameters.output_length, parameters.field_degree)


def zero_pad(bits: np.ndarray, length: int) -> np.ndarray:
    """Append zeros up to ``length`` bits (min-entropy is unchanged: the map is injective)."""
    if bits.size > length:
        raise ExtractorInputError(f"length must be >= {bits.size} to pad, got {length}")
    return np.concatenate([bits, np.zeros(length - bits.size, dtype=np.uint8)])


def _plan(construction: Construction, lengths: tuple[int, int], n: int,
          entropies: tuple[float, float], error: float, quantum_proof: bool,
          output_length: int | None, deficiency: int, max_output: int,
          field_degree: int | None) -> TwoSourceParameters:
    k1, k2 = entropies
    target = math.log2(error)
    model = "quantum-proof (Markov model)" if quantum_proof else "classical"
    if output_length is None:
        m = min(bounds.max_output_length(n, k1, k2, target, deficiency, quantum_proof), max_output)
        if m < 1:
            needed = bounds.min_entropy_sum_needed(n, 1, target, deficiency, quantum_proof)
            raise InsufficientEntropyError(
                f"min-entropies k1 + k2 = {k1 + k2:g} cannot support even 1 output bit of the "
                f"{construction} extractor at error {error:g} ({model}, padded n = {n}); "
                f"k1 + k2 >= {bounds.round_up(needed)} is needed"
            )
    else:
        _check_output_length(output_length, max_output, f"{max_output} for n = {n}")
        m = output_length
        if bounds.log2_error(n, k1, k2, m, deficiency, quantum_proof) > target:
            needed = bounds.min_entropy_sum_needed(n, m, target, deficiency, quantum_proof)
            best = bounds.max_output_length(n, k1, k2, target, deficiency, quantum_proof)
            raise InsufficientEntropyError(
                f"min-entropies k1 + k2 = {k1 + k2:g} cannot support output_length = {m} of the "
                f"{construction} extractor at error {error:g} ({model}, padded n = {n}); "
                f"k1 + k2 >= {bounds.round_up(needed)} is needed, "
                f"or output_length <= {max(best, 0)}"
            )
    reference = _REFERENCES[construction] + (_MARKOV_REFERENCE if quantum_proof else "")
    return TwoSourceParameters(
        construction=construction, source_lengths=lengths, input_length=n, output_length=m,
        min_entropies=(float(k1), float(k2)),
        log2_error=bounds.log2_error(n, k1, k2, m, deficiency, quantum_proof),
        quantum_proof=quantum_proof, field_degree=field_degree, reference=reference,
    )


def _check_sources(n1: int, k1: float, n2: int, k2: float, error: float) -> None:
    require_integer("n1", n1, 1)
    require_integer("n2", n2, 1)
    for name, entropy, length in (("k1", k1, n1), ("k2", k2, n2)):
        if not 0.0 <= entropy <= length:
            raise ExtractorInputError(
                f"{name} must be a min-entropy in [0, {length}] (its source length), "
                f"got {entropy!r}"
            )
    if not 0.0 < error < 1.0:
        raise ExtractorInputError(f"error must be in (0, 1), got {error!r}")


def _check_output_length(output_length: int, maximum: int, why: str) -> None:
    require_integer("output_length", output_length, 1, maximum, why)


def _check_field_degree(field_degree: int) -> None:
    require_integer("field_degree", field_degree, 1, MAX_FIELD_DEGREE)


def _equal_length_bits(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = as_bits(x, "x")
    y = as_bits(y, "y")
    if x.size != y.size:
        raise ExtractorInputError(
            f"x and y must have equal lengths, got len(x) = {x.size} and len(y) = {y.size}"
        )
    if x.size < 1:
        raise ExtractorInputError("x and y must hold at least 1 bit, got 0")
    return x, y


@lru_cache(maxsize=16)
def _binary_field(degree: int):
    import galois

    modulus = galois.irreducible_poly(2, degree, method="min")
    return galois.GF(2**degree, irreducible_poly=modulus, verify=False)


def _field_elements(bits: np.ndarray, degree: int) -> list[int] | np.ndarray:
    """Blocks of ``degree`` bits as field-element integers (MSB-first)."""
    blocks = bits.reshape(-1, degree)
    if degree <= 62:
        weights = np.left_shift(np.int64(1), np.arange(degree - 1, -1, -1, dtype=np.int64))
        return blocks.astype(np.int64) @ weights
    return [int("".join(map(str, row)), 2) for row in blocks.tolist()]
