r"""Two-stage polynomial hashing over GF(2^b): a seeded extractor with a short (2b-bit) seed.

**Family.** The input ``x`` (``N`` bits) is zero-padded to ``k b`` bits, ``k = ceil(N / b)``, and cut
into blocks ``X_1, ..., X_k`` of ``b`` bits; the seed is ``(y, a)``, two ``b``-bit blocks. Then

.. math::  h_{y,a}(x) = \mathrm{trunc}_m\Big(a \cdot \sum_{i=1}^{k} X_i\, y^{i-1}\Big),

in ``GF(2^b) = GF(2)[t] / (p(t))`` with ``p(t) = t^b + t^{b/2} + 1``, ``b = 2 \cdot 3^j``: this is
the cyclotomic polynomial ``Phi_{3^{j+1}}``, irreducible over GF(2) because 2 is a primitive root
modulo ``3^{j+1}`` (2 has order 6 modulo 9, hence is primitive modulo every power of 3; Lidl &
Niederreiter, *Finite Fields*, Thm. 2.47). Block bits ``b_0 ... b_{b-1}`` are the field element
``sum_t b_t t^{b-1-t}`` (MSB-first, as in :mod:`extractors.two_source`), and ``trunc_m`` keeps the
first ``m <= b`` bits (coefficients of ``t^{b-1}, ..., t^{b-m}``).

**Almost universality.** For ``x != x'`` (same length ``N``), ``D(y) = sum_i (X_i + X'_i) y^{i-1}`` is a
nonzero polynomial of degree ``<= k - 1``, so ``P_y[D(y) = 0] <= (k - 1) 2^-b``; if ``D(y) != 0``,
``a D(y)`` is uniform on GF(2^b) for uniform ``a`` and ``trunc_m`` (GF(2)-linear, onto) of it is
uniform on ``{0,1}^m``. Hence

.. math::  P_{y,a}[h(x) = h(x')] \le (k - 1)\, 2^{-b} + 2^{-m}.

**Error with a weak seed** (:func:`log2_polynomial_hash_l1_error`). Let ``X`` have collision
probability ``CP(X) <= 2^-G`` (min-entropy ``G`` suffices) and ``e(s) = ||h_s(X) - U_m||_1`` for seed
``s``. By Cauchy-Schwarz over the ``2^m`` outputs, ``e(s)^2 <= 2^m (CP(h_s(X)) - 2^-m)``, and
``E_{s uniform} CP(h_s(X)) <= CP(X) + (k - 1) 2^-b + 2^-m`` (the almost-universality above: the
leftover hash lemma for almost-universal families, Stinson 2002 / Tsurumaru-Hayashi 2013 form), so
``E_U[e^2] <= 2^m (2^-G + (k - 1) 2^-b)``. For a seed ``S`` with law ``q`` on ``d = 2b`` bits,
Cauchy-Schwarz again: ``E_q[e] = sum_s q(s) e(s) <= sqrt(2^d CP(S)) sqrt(E_U[e^2])``. An eps-SV bit
has conditional collision probability ``(1 + 4 eps^2)/2``, so ``2^d CP(S) <= (1 + 4 eps^2)^d`` and

.. math::  ||(h_S(X), S) - (U_m, S)||_1 \le (1 + 4\epsilon^2)^b\, 2^{m/2}
           \sqrt{2^{-G} + (\lceil N/b \rceil - 1) 2^{-b}}.

This is an L1 (twice statistical) distance, with the seed published. Implementation: batched
carry-less products by FFT convolution (``scipy.signal.fftconvolve``, exact: integer counts below
``2^53``) and a pairwise (Estrin) evaluation of the polynomial, ``log2 k`` vectorised levels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from extractors.bits import as_bits
from extractors.errors import ExtractorInputError, require_integer

MAX_FIELD_EXPONENT = 10
"""Field degrees ``b = 2 * 3**j`` for ``j = 0 .. MAX_FIELD_EXPONENT`` (``b <= 118,098``)."""
FIELD_DEGREES = tuple(2 * 3**j for j in range(MAX_FIELD_EXPONENT + 1))
_BATCH_BITS = 1 << 22
REFERENCE = ("two-stage polynomial hashing over GF(2^b), (k-1) 2^-b + 2^-m almost universal; "
             "leftover hash lemma + Cauchy-Schwarz for a weak seed (extractors.polynomial_hash)")


def check_field_degree(field_degree: object) -> int:
    """``b`` must be ``2 * 3**j`` (``p(t) = t^b + t^(b/2) + 1`` irreducible), in :data:`FIELD_DEGREES`."""
    if not (isinstance(field_degree, (int, np.integer)) and not isinstance(field_degree, bool)
            and int(field_degree) in FIELD_DEGREES):
        raise ExtractorInputError(f"field_degree must be one of 2*3^j = {FIELD_DEGREES}, "
                                  f"got {field_degree!r}")
    return int(field_degree)


def _reduce(product: np.ndarray, degree: int) -> np.ndarray:
    """Coefficients (low degree first) mod 2 and mod ``t^b + t^(b/2) + 1``: each pass rewrites
    ``t^d = t^(d-b) (t^(b/2) + 1)`` for ``d >= b``; from degree ``2b - 2`` two passes reach ``< b``."""
    half = degree // 2
    poly = np.asarray(product, dtype=np.int64) & 1
    while poly.shape[-1] > degree:
        high = poly[..., degree:]
        top = high.shape[-1]
        low = np.zeros(poly.shape[:-1] + (max(degree, half + top),), dtype=np.int64)
        low[..., :degree] = poly[..., :degree]
        low[..., :top] ^= high
        low[..., half:half + top] ^= high
        poly = low
    return poly.astype(np.uint8)


def _multiply(left: np.ndarray, right: np.ndarray, degree: int) -> np.ndarray:
    """Field product of coefficient arrays (low degree first); ``right`` broadcasts over rows.
    (``scipy.signal`` is imported here: it takes seconds to import and planning never needs it.)"""
    from scipy.signal import fftconvolve

    product = fftconvolve(left.astype(np.float64), np.broadcast_to(
        right.astype(np.float64), left.shape), axes=-1)
    return _reduce(np.rint(product).astype(np.int64), degree)


def _to_coefficients(blocks: np.ndarray) -> np.ndarray:
    """MSB-first bit blocks -> coefficient arrays, low degree first."""
    return np.ascontiguousarray(blocks[..., ::-1])


def _evaluate(coefficients: np.ndarray, point: np.ndarray, degree: int) -> np.ndarray:
    """``sum_i c_i y^i`` by pairwise levels ``P = P_even + y^(2^l) P_odd``."""
    power = point
    while coefficients.shape[0] > 1:
        if coefficients.shape[0] % 2:
            coefficients = np.concatenate([coefficients, np.zeros((1, degree), np.uint8)])
        even, odd = coefficients[0::2], coefficients[1::2]
        rows = max(1, _BATCH_BITS // degree)
        products = np.concatenate([_multiply(odd[i:i + rows], power, degree)
                                   for i in range(0, odd.shape[0], rows)])
        coefficients = even ^ products
        power = _multiply(power[None, :], power, degree)[0]
    return coefficients[0]


def polynomial_hash_extract(x: object, seed: object, field_degree: int, output_bits: int) -> np.ndarray:
    """``h_{y,a}(x)`` (module docstring) as ``output_bits`` 0/1 ``uint8`` values, MSB-first.

    ``seed`` is ``2 b`` bits: ``y`` (first ``b``) then ``a``."""
    degree = check_field_degree(field_degree)
    output_bits = require_integer("output_bits", output_bits, 1, degree, "at most the field degree b")
    x_bits, seed_bits = as_bits(x), as_bits(seed)
    if x_bits.size < 1:
        raise ExtractorInputError(f"x must have at least 1 bit, got {x_bits.size}")
    if seed_bits.size != 2 * degree:
        raise ExtractorInputError(f"seed must have exactly 2 b = {2 * degree} bits, "
                                  f"got {seed_bits.size}")
    blocks = math.ceil(x_bits.size / degree)
    padded = np.zeros(blocks * degree, dtype=np.uint8)
    padded[:x_bits.size] = x_bits
    point = _to_coefficients(seed_bits[:degree])
    multiplier = _to_coefficients(seed_bits[degree:])
    value = _evaluate(_to_coefficients(padded.reshape(blocks, degree)), point, degree)
    hashed = _multiply(value[None, :], multiplier, degree)[0]
    return hashed[::-1][:output_bits].astype(np.uint8)


def collision_bound(input_bits: int, field_degree: int, output_bits: int) -> float:
    """``(ceil(N/b) - 1) 2^-b + 2^-m``: the family's collision probability for ``x != x'``."""
    blocks = math.ceil(input_bits / field_degree)
    return (blocks - 1) * 2.0**-field_degree + 2.0**-output_bits


def log2_polynomial_hash_l1_error(input_bits: int, min_entropy: float, eps: float,
                                  field_degree: int, output_bits: int) -> float:
    """``log2`` of ``(1 + 4 eps^2)^b 2^(m/2) sqrt(2^-G + (ceil(N/b) - 1) 2^-b)`` (module docstring);
    ``+inf`` when ``m > b``. Computed in log space (no underflow for large ``G`` or ``b``)."""
    if output_bits > field_degree:
        return math.inf
    blocks = math.ceil(input_bits / field_degree)
    terms = [-float(min_entropy)]
    if blocks > 1:
        terms.append(math.log2(blocks - 1) - field_degree)
    return (field_degree * math.log2(1.0 + 4.0 * eps**2) + output_bits / 2.0
            + 0.5 * float(np.logaddexp2.reduce(terms)))


@dataclass(frozen=True)
class PolynomialHashParameters:
    """The field degree minimising the weak-seed L1 bound, and that bound (``log2``)."""

    input_bits: int
    min_entropy: float
    eps: float
    output_bits: int
    field_degree: int
    seed_bits: int
    log2_l1_error: float
    reference: str = REFERENCE


def polynomial_hash_parameters(input_bits: int, min_entropy: float, eps: float,
                               output_bits: int) -> PolynomialHashParameters:
    """Best ``b`` in :data:`FIELD_DEGREES` (``b >= m``) for an eps-SV seed of ``2b`` bits."""
    input_bits = require_integer("input_bits", input_bits, 1)
    output_bits = require_integer("output_bits", output_bits, 1, FIELD_DEGREES[-1])
    if not (np.isfinite(eps) and 0.0 <= eps < 0.5):
        raise ExtractorInputError(f"eps must be a number in [0, 1/2), got {eps!r}")
    if not np.isfinite(min_entropy) or min_entropy < 0:
        raise ExtractorInputError(f"min_entropy must be a finite number >= 0, got {min_entropy!r}")
    best = min((log2_polynomial_hash_l1_error(input_bits, min_entropy, eps, b, output_bits), b)
               for b in FIELD_DEGREES if b >= output_bits)
    return PolynomialHashParameters(input_bits, float(min_entropy), float(eps), output_bits,
                                    best[1], 2 * best[1], best[0])
