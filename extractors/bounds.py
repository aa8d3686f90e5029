r"""Error bounds of the bilinear two-source extractors, classical and quantum-proof (Markov model).

Both two-source extractors of this package output ``m`` bits ``z_i = x^T A_i y`` over GF(2)
from two ``n``-bit sources. Write ``r`` for the *rank deficiency*: every nonempty sum
``A_S = sum_{i in S} A_i`` has rank at least ``n - r`` (``r = 1`` for the cyclic shifts,
``r = 0`` for the inner product over GF(2^k)^l).

**Classical bound** (Chor & Goldreich, SIAM J. Comput. 17 (1988), Lindsey's lemma; Vazirani,
Combinatorica 7 (1987), XOR lemma; Dodis, Elbaz, Oliveira & Raz, RANDOM 2004, Thm. 1 for
the cyclic shifts). For independent ``X, Y`` with min-entropies ``k1, k2``, each parity
``<x, A_S y>`` has bias at most ``2^{(n + r - k1 - k2)/2}`` (Cauchy-Schwarz over ``x``, then
``P[Y + Y' in ker A_S] <= 2^{r - k2}``), and the XOR lemma gives the statistical distance

.. math::  \varepsilon = \tfrac12 \lVert P_{Z} - U_m \rVert_1 \le 2^{(m + n + r - k_1 - k_2)/2 - 1}.

Errors in this package are statistical (total-variation) distances, i.e. half the
``||.||_1`` of paper 004 eq. (3); ``||.||_1 = 2 * error``.

**Quantum-proof in the Markov model** (Arnon-Friedman, Portmann & Scholz, "Quantum-proof
multi-source randomness extractors in the Markov model", TQC 2016, arXiv:1510.06743,
Theorem 1): every classical ``(k1, k2, eps_c)`` two-source extractor is a quantum-proof
``(k1 + log2(1/eps_c), k2 + log2(1/eps_c), sqrt(3 * eps_c * 2^{m-2}))`` extractor in the Markov
model. With ``eps_c = 2^{-t}`` and the classical bound at entropies ``k_i - t``, the best
``t`` solves ``(m + n + r - k1 - k2 + 2t)/2 - 1 = -t``, i.e. ``t = (k1 + k2 - m - n - r + 2)/4``, so

.. math::  \log_2 \varepsilon_q = \tfrac12\big(\log_2 3 + m - 2 - t\big).

Output lengths: the largest integer ``m`` whose bound is at most the target; closed forms
``m = floor(k1 + k2 - n - r + 2 + 2 log2 eps)`` (classical) and
``m = floor((k1 + k2 - n - r + 10 + 8 log2 eps - 4 log2 3) / 5)`` (Markov model).
"""

from __future__ import annotations

import math

LOG2_3 = math.log2(3.0)


def classical_log2_error(n: int, k1: float, k2: float, m: int, rank_deficiency: int) -> float:
    """``log2`` of the classical statistical-distance bound (module docstring)."""
    return (m + n + rank_deficiency - k1 - k2) / 2.0 - 1.0


def markov_log2_error(n: int, k1: float, k2: float, m: int, rank_deficiency: int) -> float:
    """``log2`` of the quantum-proof (Markov model) bound (module docstring)."""
    t = (k1 + k2 - m - n - rank_deficiency + 2.0) / 4.0
    return (LOG2_3 + m - 2.0 - t) / 2.0


def log2_error(n: int, k1: float, k2: float, m: int, rank_deficiency: int,
               quantum_proof: bool) -> float:
    """The classical or the Markov-model bound, as ``log2`` of the statistical distance."""
    bound = markov_log2_error if quantum_proof else classical_log2_error
    return bound(n, k1, k2, m, rank_deficiency)


def max_output_length(n: int, k1: float, k2: float, log2_target: float, rank_deficiency: int,
                      quantum_proof: bool) -> int:
    """Largest ``m`` (possibly <= 0) whose bound does not exceed ``2^log2_target``.

    The closed form is floored, then checked against :func:`log2_error` and lowered while
    floating-point rounding would have favoured the user.
    """
    total = k1 + k2 - n - rank_deficiency
    if quantum_proof:
        m = math.floor((total + 10.0 + 8.0 * log2_target - 4.0 * LOG2_3) / 5.0)
    else:
        m = math.floor(total + 2.0 + 2.0 * log2_target)
    while m >= 1 and log2_error(n, k1, k2, m, rank_deficiency, quantum_proof) > log2_target:
        m -= 1
    return m


def min_entropy_sum_needed(n: int, m: int, log2_target: float, rank_deficiency: int,
                           quantum_proof: bool) -> float:
    """Smallest ``k1 + k2`` for which ``m`` output bits meet the target (solving the bound)."""
    if quantum_proof:
        return 5.0 * m + n + rank_deficiency - 10.0 - 8.0 * log2_target + 4.0 * LOG2_3
    return m + n + rank_deficiency - 2.0 - 2.0 * log2_target


def round_up(value: float, decimals: int = 2) -> float:
    """``value`` rounded up to ``decimals`` decimals: stated requirements never round down."""
    scale = 10.0**decimals
    return math.ceil(value * scale) / scale
