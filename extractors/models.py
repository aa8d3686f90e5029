r"""Extractor models for the amplification certificates: one explicit extractor each, with its
L1 error bound as a calculator and its extraction.

A certificate (``protocols.amplification``) needs three things from an extractor: how many seed
bits it takes for an input length (``t_length``), ``log2`` of the L1 distance from uniform of its
output (``||.||_1`` of paper 004 eqs. (3), (84): twice the statistical distance of
:mod:`extractors.bounds`) given the input length, the entropy claims and the output length, and
the extraction itself (``extract(x, t, output_bits)``). ``from_params`` answers the converse
question, in the spirit of cryptomite's interface: given the input length, the entropy claims and
a target error, the largest output length (0 if none).

* :class:`CyclicShiftExtractor` - Dodis, Elbaz, Oliveira & Raz (RANDOM 2004) cyclic shifts
  (:mod:`extractors.two_source`); ``x`` zero-padded to ``L = next_cyclic_length(len x)`` (padding
  keeps min-entropy), seed ``t`` of ``L`` bits. Two bounds: the classical min-entropy bound of
  :mod:`extractors.bounds` (rank deficiency 1), L1 ``2^((m + L + 1 - k_x - k_t)/2)``, used by paper
  004's chain; and the collision-entropy bound with an eps-SV seed,
  L1 ``2^((m + 1 + L log2(1 + 4 eps^2) - G)/2)`` (docs/amplification_improved_certificate.md,
  "Extractor error E"), used by the improved chain.
* :class:`PolynomialHashExtractor` - two-stage polynomial hashing over GF(2^b) with a ``2b``-bit
  eps-SV seed (:mod:`extractors.polynomial_hash`), L1
  ``(1 + 4 eps^2)^b 2^(m/2) sqrt(2^-G + (ceil(N/b) - 1) 2^-b)``, ``b`` chosen to minimise it.
* :class:`ThreeSourceByConcatenation` - ``Ext3(t, x, y) = Ext2(t, x || y)`` with the cyclic shift
  (:mod:`extractors.three_source`), for Protocol II's paper chain.

Nothing here knows about devices or protocols.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Protocol

import numpy as np

from extractors.bounds import classical_log2_error
from extractors.polynomial_hash import (PolynomialHashParameters, polynomial_hash_extract,
                                        polynomial_hash_parameters)
from extractors.primes import next_cyclic_length
from extractors.three_source import three_source_extract, three_source_parameters
from extractors.two_source import CYCLIC_SHIFT_RANK_DEFICIENCY, cyclic_shift_extract, zero_pad


class TwoSourceExtractorModel(Protocol):
    """An explicit two-source extractor as paper 004's Protocol I certificate sees it."""

    name: str

    def t_length(self, x_length: int) -> int:
        """Number of SV bits ``t`` the extractor takes alongside ``x_length`` device bits."""

    def log2_error(self, x_length: int, x_entropy: float, t_length: int, t_entropy: float,
                   output_bits: int) -> float:
        """log2 of the L1 distance from uniform of the output (``+inf`` if inapplicable)."""

    def extract(self, x: np.ndarray, t: np.ndarray, output_bits: int) -> np.ndarray:
        """The ``output_bits`` output bits (0/1 ``uint8``) from device bits ``x`` and SV bits ``t``."""


@lru_cache(maxsize=512)
def cyclic_length(x_length: int) -> int:
    """``L = next_cyclic_length(x_length)``: the cyclic shift's input length (prime, 2 primitive)."""
    return next_cyclic_length(x_length)


def _largest_output(log2_error_of, log2_target: float, most_bits: int) -> int:
    """Largest ``m`` in ``[0, most_bits]`` with ``log2_error_of(m) <= log2_target`` (``m -> error``
    non-decreasing), by bisection."""
    low, high = 0, most_bits + 1
    while high - low > 1:
        middle = (low + high) // 2
        if log2_error_of(middle) <= log2_target:
            low = middle
        else:
            high = middle
    return low


class CyclicShiftExtractor:
    """Dodis et al.'s cyclic shift on ``x`` padded to ``L = next_cyclic_length(len x)`` and an
    ``L``-bit seed ``t`` (module docstring); at most ``L - 1`` output bits."""

    name = "cyclic-shift (Dodis et al. 2004, classical bound)"

    def t_length(self, x_length: int) -> int:
        return cyclic_length(x_length)

    def log2_error(self, x_length: int, x_entropy: float, t_length: int, t_entropy: float,
                   output_bits: int) -> float:
        """log2 L1 error for min-entropies ``x_entropy``, ``t_entropy``: ``1 +`` the classical
        statistical-distance bound of :mod:`extractors.bounds` (rank deficiency 1)."""
        length = max(self.t_length(x_length), t_length)
        if output_bits > length - 1:
            return math.inf
        return 1.0 + classical_log2_error(length, x_entropy, t_entropy, output_bits,
                                          CYCLIC_SHIFT_RANK_DEFICIENCY)

    def log2_collision_error(self, x_length: int, x_entropy: float, eps: float,
                             output_bits: int) -> float:
        """log2 L1 error ``(m + 1 + L log2(1 + 4 eps^2) - G)/2`` for ``x`` of collision entropy
        ``G = x_entropy`` and an eps-SV seed; ``+inf`` when ``m > L - 1``."""
        length = self.t_length(x_length)
        if output_bits > length - 1:
            return math.inf
        return (output_bits + 1 + length * math.log2(1.0 + 4.0 * eps**2) - x_entropy) / 2.0

    def from_params(self, x_length: int, x_entropy: float, t_entropy: float,
                    log2_error: float) -> int:
        """Largest output length whose :meth:`log2_error` is at most ``log2_error`` (0: none)."""
        length = self.t_length(x_length)
        return _largest_output(
            lambda m: self.log2_error(x_length, x_entropy, length, t_entropy, m) if m else -math.inf,
            log2_error, length - 1)

    def extract(self, x: np.ndarray, t: np.ndarray, output_bits: int) -> np.ndarray:
        return cyclic_shift_extract(zero_pad(x, t.size), t, output_bits)


class PolynomialHashExtractor:
    """Two-stage polynomial hashing over GF(2^b) with seed ``t = (y, a)`` of ``2b`` SV bits
    (:mod:`extractors.polynomial_hash`); ``b`` is read from the seed length at extraction."""

    name = "polynomial-hash (GF(2^b), 2b-bit SV seed, weak-seed leftover hash bound)"

    def parameters(self, x_length: int, x_entropy: float, eps: float,
                   output_bits: int) -> PolynomialHashParameters:
        """The field degree minimising the L1 bound for an eps-SV seed, and the bound."""
        return polynomial_hash_parameters(x_length, x_entropy, eps, output_bits)

    def from_params(self, x_length: int, x_entropy: float, eps: float, log2_error: float) -> int:
        """Largest output length whose best bound is at most ``log2_error`` (0: none)."""
        return _largest_output(
            lambda m: (self.parameters(x_length, x_entropy, eps, m).log2_l1_error
                       if m else -math.inf), log2_error, x_length)

    def extract(self, x: np.ndarray, t: np.ndarray, output_bits: int) -> np.ndarray:
        return polynomial_hash_extract(x, t, t.size // 2, output_bits)


class ThreeSourceByConcatenation:
    """``Ext3(t, x, y) = Ext2(t, x || y)`` (:mod:`extractors.three_source`): the cyclic shift on
    ``t`` and the ``2 N`` bits ``x || y`` of two ``N``-bit device strings, padded to
    ``L = next_cyclic_length(2N)``; ``t`` is ``L`` SV bits.

    ``log2_error`` takes the per-device length ``N`` and min-entropy ``k`` (the product of the two
    conditional boxes has min-entropy ``2k``)."""

    name = "three-source by concatenation: cyclic shift on (t, x || y_j), classical bound"

    def __init__(self) -> None:
        self._pair = CyclicShiftExtractor()

    def t_length(self, device_bits: int) -> int:
        return self._pair.t_length(2 * device_bits)

    def log2_error(self, device_bits: int, device_entropy: float, t_length: int,
                   t_entropy: float, output_bits: int) -> float:
        """log2 of the L1 error (twice the statistical distance of :mod:`extractors.bounds`)."""
        return self._pair.log2_error(2 * device_bits, 2 * device_entropy, t_length, t_entropy,
                                     output_bits)

    def from_params(self, device_bits: int, device_entropy: float, t_entropy: float,
                    log2_error: float) -> int:
        """Largest output length whose :meth:`log2_error` is at most ``log2_error`` (0: none)."""
        return self._pair.from_params(2 * device_bits, 2 * device_entropy, t_entropy, log2_error)

    def extract(self, x: np.ndarray, y: np.ndarray, t: np.ndarray, output_bits: int,
                device_entropy: float, t_entropy: float, log2_error: float) -> np.ndarray:
        """The output; :func:`extractors.three_source.three_source_parameters` checks the claims
        (min-entropies ``device_entropy`` per device, ``t_entropy``, L1 error ``2**log2_error``)
        again before extracting."""
        statistical = 2.0 ** (log2_error - 1.0) * (1.0 + 1e-9)
        parameters = three_source_parameters(
            t.size, t_entropy, x.size, device_entropy, y.size, device_entropy,
            error=min(statistical, 0.5), output_length=output_bits)
        return three_source_extract(t, x, y, parameters)
