r"""A three-source extractor for Protocol II of paper 004, by concatenation.

Paper 004, Lemma 5 (ii) cites Rao's three-source extractor, whose constants are not explicit.
Here instead: for independent ``X1, X2, X3`` with min-entropies ``k1, k2, k3``,

* ``X2 || X3`` is independent of ``X1`` and ``H_min(X2 X3) = H_min(X2) + H_min(X3) >= k2 + k3``
  (the most likely pair has probability ``max p2 * max p3``);
* hence any ``(k1, k2 + k3, eps)`` two-source extractor applied to ``(X1, X2 || X3)`` is a
  ``(k1, k2, k3, eps)`` three-source extractor, with the same error bound
  (:mod:`extractors.bounds`): ``eps = 2^{(m + n + r - k1 - k2 - k3)/2 - 1}`` classically, ``n``
  the common padded length of ``X1`` and ``X2 || X3``.

Quantum-proof use (Markov model, Arnon-Friedman-Portmann-Scholz 2016) needs the two-source
hypotheses for the pair ``(X1, X2 || X3)``: ``X1 <-> E <-> X2 X3`` a Markov chain and
``H_min(X1|E) >= k1``, ``H_min(X2 X3|E) >= k2 + k3``. The last holds, for example, when ``X3`` is
independent of ``(X2, E)`` (then ``H_min(X2 X3|E) = H_min(X2|E) + H_min(X3)``); it is the caller's
claim, not something this module can check.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from extractors.bits import as_bits
from extractors.errors import ExtractorInputError, require_integer
from extractors.two_source import (
    Construction,
    TwoSourceParameters,
    cyclic_shift_parameters,
    extract_two_source,
    inner_product_parameters,
)


@dataclass(frozen=True)
class ThreeSourceParameters:
    """A three-source plan: the two-source plan for ``(X1, X2 || X3)`` and the original claims."""

    source_lengths: tuple[int, int, int]
    min_entropies: tuple[float, float, float]
    two_source: TwoSourceParameters

    @property
    def output_length(self) -> int:
        return self.two_source.output_length

    @property
    def log2_error(self) -> float:
        return self.two_source.log2_error

    @property
    def error(self) -> float:
        return self.two_source.error


def three_source_parameters(n1: int, k1: float, n2: int, k2: float, n3: int, k3: float,
                            error: float, quantum_proof: bool = False,
                            output_length: int | None = None,
                            construction: Construction = "cyclic-shift") -> ThreeSourceParameters:
    """Plan for three independent sources: the two-source calculator at
    ``(n1, k1, n2 + n3, k2 + k3)``.

    Raises :class:`~extractors.errors.InsufficientEntropyError` (naming the needed total
    min-entropy, which here is ``k1 + k2 + k3``) when the claims cannot meet ``error``.
    """
    for name, length, entropy in (("n2", n2, k2), ("n3", n3, k3)):
        require_integer(name, length, 1)
        if not 0.0 <= entropy <= length:
            raise ExtractorInputError(
                f"min-entropy of source {name[1]} must be in [0, {length}], got {entropy!r}"
            )
    if construction == "cyclic-shift":
        two = cyclic_shift_parameters(n1, k1, n2 + n3, k2 + k3, error, quantum_proof,
                                      output_length)
    elif construction == "inner-product":
        two = inner_product_parameters(n1, k1, n2 + n3, k2 + k3, error, quantum_proof,
                                       output_length)
    else:
        raise ExtractorInputError(
            f"construction must be 'cyclic-shift' or 'inner-product', got {construction!r}"
        )
    return ThreeSourceParameters((n1, n2, n3), (float(k1), float(k2), float(k3)), two)


def three_source_extract(x1: np.ndarray, x2: np.ndarray, x3: np.ndarray,
                         parameters: ThreeSourceParameters) -> np.ndarray:
    """Extract from three independent sources: the planned two-source extractor on
    ``(x1, x2 || x3)``."""
    x1, x2, x3 = as_bits(x1, "x1"), as_bits(x2, "x2"), as_bits(x3, "x3")
    if (x1.size, x2.size, x3.size) != parameters.source_lengths:
        raise ExtractorInputError(
            f"source lengths must be {parameters.source_lengths} as planned, "
            f"got {(x1.size, x2.size, x3.size)}"
        )
    return extract_two_source(x1, np.concatenate([x2, x3]), parameters.two_source)
