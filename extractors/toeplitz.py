r"""Toeplitz hashing: the two-universal family of paper 000, Definition 5 (eq. 48).

Seed-to-matrix convention. A seed ``s`` of ``n + m - 1`` bits defines the ``m x n`` matrix

.. math::  T[i, j] = s[i - j + n - 1], \qquad 0 \le i < m,\ 0 \le j < n,

so ``s`` lists the diagonals from the top-right corner (``T[0, n-1] = s[0]``) to the
bottom-left corner (``T[m-1, 0] = s[n+m-2]``): the first row is ``s[n-1], s[n-2], ..., s[0]``
and the first column is ``s[n-1], s[n], ..., s[n+m-2]``. The hash is

.. math::  h_s(x)_i = \bigoplus_j T[i, j] x_j = \Big(\sum_j s[i + n - 1 - j]\, x_j\Big) \bmod 2,

i.e. entries ``n-1 ... n+m-2`` of the full linear convolution ``s * x`` reduced mod 2.
(cryptomite's ``Toeplitz`` reads its seed ``c`` as ``T[i, j] = c[(i - j) mod (n+m-1)]``; the two
agree when ``s = numpy.roll(c, n - 1)``.)

Two-universality: for ``x != x'`` and a uniform seed, ``T (x + x')`` is uniform on
``{0,1}^m`` (fix the diagonals of one nonzero column of ``x + x'`` last), so
``P[h(x) = h(x')] = 2^-m``, which is eq. (48) of paper 000 with equality.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from extractors.bits import as_bits
from extractors.bounds import round_up
from extractors.errors import ExtractorInputError, InsufficientEntropyError, require_integer
from extractors.gf2_correlation import correlate


def toeplitz_seed_length(input_length: int, output_length: int) -> int:
    """Seed length ``n + m - 1`` of the Toeplitz hash from ``n`` to ``m`` bits."""
    _check_lengths(input_length, output_length)
    return input_length + output_length - 1


def toeplitz_hash(bits: np.ndarray, seed: np.ndarray, output_length: int) -> np.ndarray:
    """Toeplitz hash ``T @ bits`` over GF(2) (convention in the module docstring).

    Parameters
    ----------
    bits:
        0/1 array of length ``n >= 1``.
    seed:
        0/1 array of length ``n + output_length - 1``.
    output_length:
        ``m >= 1``.

    Returns
    -------
    0/1 uint8 array of length ``m``: ``out[i] = XOR_j seed[i - j + n - 1] & bits[j]``.
    Exact for every length (see :mod:`extractors.gf2_correlation`).
    """
    x = as_bits(bits, "bits")
    s = as_bits(seed, "seed")
    _check_lengths(x.size, output_length)
    expected = x.size + output_length - 1
    if s.size != expected:
        raise ExtractorInputError(
            f"seed must have n + output_length - 1 = {expected} bits "
            f"(n = {x.size}, output_length = {output_length}), got {s.size}"
        )
    # out[i] = XOR_k reversed(bits)[k] & seed[k + i], with k = n - 1 - j.
    return correlate(x[::-1].copy(), s, output_length)


def _check_lengths(input_length: int, output_length: int) -> None:
    require_integer("input length n", input_length, 1)
    require_integer("output_length", output_length, 1)


@dataclass(frozen=True)
class ToeplitzParameters:
    """Privacy amplification by Toeplitz hashing with a uniform, independent seed.

    ``error`` bounds the statistical (trace) distance between ``(h_S(X), S, E)`` and
    ``(U_m, S, E)`` for ``H_min(X|E) >= min_entropy`` (``||.||_1 = 2 * error``).
    """

    input_length: int
    min_entropy: float
    output_length: int
    seed_length: int
    log2_error: float
    reference: str = (
        "Leftover hash lemma (Impagliazzo-Levin-Luby 1989; quantum side information: "
        "Tomamichel, Schaffner, Smith, Renner, IEEE TIT 57 (2011), Lemma 1) with the "
        "two-universal Toeplitz family of paper 000 Definition 5"
    )

    @property
    def error(self) -> float:
        return 2.0 ** self.log2_error


def toeplitz_log2_error(min_entropy: float, output_length: int) -> float:
    r"""Leftover hash lemma: ``log2`` of ``eps = (1/2) 2^{-(k - m)/2}``.

    For a two-universal family (paper 000, Definition 5) the collision probability of
    ``(S, h_S(X))`` is at most ``(2^-k + 2^-m) / |S|``, so
    ``eps <= (1/2) sqrt(2^m 2^-k)``; the same bound holds against quantum side information
    ``E`` with ``k = H_min(X|E)`` (Tomamichel et al. 2011, Lemma 1).
    """
    return (output_length - min_entropy) / 2.0 - 1.0


def toeplitz_parameters(input_length: int, min_entropy: float, error: float,
                        output_length: int | None = None) -> ToeplitzParameters:
    """Longest Toeplitz output with leftover-hash error at most ``error`` (or check
    ``output_length``).

    ``m = floor(k + 2 - 2 log2(1/error))`` (inverse of :func:`toeplitz_log2_error`), lowered
    while floating-point rounding would favour the user. Raises
    :class:`~extractors.errors.InsufficientEntropyError` with the min-entropy that would do.
    """
    _check_lengths(input_length, output_length if output_length is not None else 1)
    if not 0.0 <= min_entropy <= input_length:
        raise ExtractorInputError(
            f"min_entropy must be in [0, {input_length}] (the input length), got {min_entropy!r}"
        )
    if not 0.0 < error < 1.0:
        raise ExtractorInputError(f"error must be in (0, 1), got {error!r}")
    target = math.log2(error)
    if output_length is None:
        m = math.floor(min_entropy + 2.0 + 2.0 * target)
        while m >= 1 and toeplitz_log2_error(min_entropy, m) > target:
            m -= 1
        if m < 1:
            raise InsufficientEntropyError(
                f"min_entropy = {min_entropy:g} cannot support even 1 output bit at error "
                f"{error:g}; min_entropy >= {round_up(1.0 - 2.0 - 2.0 * target)} is needed"
            )
    else:
        m = output_length
        if toeplitz_log2_error(min_entropy, m) > target:
            raise InsufficientEntropyError(
                f"min_entropy = {min_entropy:g} cannot support output_length = {m} at error "
                f"{error:g}; min_entropy >= {round_up(m - 2.0 - 2.0 * target)} is needed, or "
                f"output_length <= {max(0, math.floor(min_entropy + 2.0 + 2.0 * target))}"
            )
    return ToeplitzParameters(input_length, float(min_entropy), m,
                              toeplitz_seed_length(input_length, m),
                              toeplitz_log2_error(min_entropy, m))
