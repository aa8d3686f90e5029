r"""Parity-check matrices of irregular LDPC codes for syndrome-based error correction.

A code is fixed by its block length ``n`` and syndrome length ``m`` (the number of parity
checks, i.e. the number of bits Alice publishes per block). The matrix is built
deterministically from ``(n, m)`` and a fixed public seed, so Alice and Bob (and anyone
checking a transcript) build the same matrix without exchanging anything; it does not depend
on the raw keys.

Degree distributions (chosen by the code rate ``R = 1 - m/n``)
--------------------------------------------------------------
The variable (column) degree distribution, in the edge perspective ``lambda_d`` (fraction of
edges on columns of degree ``d``), is the row of :data:`DEGREE_DISTRIBUTIONS` with the smallest
design rate ``>= R`` (a code used at a rate a little below its design rate has more checks
than it was designed for, which only helps; the rows were measured in that position, see
below, e.g. rate 0.78-0.84 codes with the 0.80 and 0.85 rows):

* design rates 0.50-0.85: the distributions ``lambda(x)`` of Table I of D. Elkouss,
  A. Leverrier, R. Alleaume, J. J. Boutros, "Efficient reconciliation protocol for
  discrete-variable quantum key distribution", Proc. IEEE ISIT 2009, pp. 1879-1883
  (arXiv:0901.2140), optimised for the binary symmetric channel by differential evolution
  with discretised density evolution (their thresholds: 0.0199 at rate 0.85, 0.0298 at 0.80,
  0.0392 at 0.75, ..., 0.1071 at 0.50, i.e. ``(1 - R) / h(p*)`` between 1.04 and 1.07). A
  term ``c x^(d-1)`` of their ``lambda(x)`` is the entry ``d: c`` here.
* design rate 0.90 (used for every rate above 0.85): bellbox's own distribution ``{3: 0.3, 16: 0.7}``, chosen by
  Monte-Carlo (population) density evolution of sum-product decoding on the BSC at rate 0.9
  over mixtures of degrees {2, 3, 6, 10, 16}, then by finite-length simulation with
  ``ldpc``'s decoder (threshold efficiency about 1.16). Elkouss et al.'s rate-0.90 row
  (threshold 0.0109, efficiency 1.145) was measured against it at ``n = 2^16``, 1 % errors,
  ``m = 1.22 n h(0.01)``: it failed 1 of 4 frames after 96 iterations on average, the own
  distribution 0 of 4 after 40, so the own one is kept there. Its degree-2 columns (19 % of
  the columns at rate 0.9, more than the 10 % rows) close cycles among themselves in this
  random construction; at rates up to 0.85 Elkouss et al.'s rows win clearly (same test at 2 %
  errors, ``m = 1.15 n h``: 0 of 4 failures against 4 of 4 for the own distribution; at 3 %,
  ``m = 1.12 n h``: 1 of 4 against 4 of 4).

The check (row) side is *concentrated*: the ``E`` edges are dealt to rows round-robin, so row
degrees differ by at most one. This is the form of every ``rho(x)`` in Elkouss et al.'s table
(two consecutive degrees), with the average degree ``E / m`` that the actual ``(n, m)`` needs;
the rate therefore may differ a little from the row's design rate, which moves the threshold
slightly (the measured efficiencies in :mod:`protocols.qkd.reconciliation` are for the actual
codes).

Construction (a "configuration model" random graph, Richardson & Urbanke, *Modern Coding
Theory*, Sec. 3.3):

* node fractions from edge fractions, ``share_d = (lambda_d / d) / sum_k (lambda_k / k)``;
  a column of degree ``d`` (capped at ``m``) receives ``d`` edge sockets;
* the ``E`` row slots are ``k mod m`` for ``k < E``, and a uniformly random permutation of
  the slots is matched to the column sockets;
* repeated (column, row) pairs are removed by swapping the row of a repeated socket with the
  row of a random socket, which keeps every row and column degree; any pair still repeated
  after :data:`_MAX_REPAIR_ROUNDS` rounds is merged into a single edge (the column loses one
  edge; this only happens for very short codes).

Short cycles are not removed, and this shows as an error floor: at 3 % errors (rate-0.80
row, ``n = 250,000``, ``m = 58,372``) 1 of 8 frames of i.i.d. errors at the design rate failed
with BP stuck on 2 wrong bits at a weight (7,335) *below* the mean (7,500), a trapping set
rather than the waterfall. The rate-0.80 row puts 28 % of the columns at degree 2, more than
the 23 % rows, so degree-2 columns close cycles among themselves; progressive edge growth, or
a cycle-free (staircase) placement of the degree-2 columns where they are fewer than the rows
(rate-0.85 row: 14 % against 17 %), would lower the floor. Not done yet.
Figures: ``benchmarks/bench_reconciliation.py``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.sparse

#: (design code rate, edge-perspective variable-degree distribution ``{degree: lambda_d}``);
#: sources in the module docstring. Each row sums to 1 up to the table's rounding. In the
#: rate-0.85 row the text of the paper reads ``0.094274 x^4``; ``0.04274`` is used, the value
#: for which the row sums to 1 (1.00002) and eq. (5) with the row's ``rho(x)`` gives rate
#: 0.849 (0.858 and a sum of 1.05 with the printed value).
DEGREE_DISTRIBUTIONS: tuple[tuple[float, dict[int, float]], ...] = (
    (0.90, {3: 0.3, 16: 0.7}),  # bellbox's own (module docstring)
    (0.85, {2: 0.04528, 3: 0.20537, 4: 0.05878, 5: 0.04274, 6: 0.08454, 7: 0.01176, 9: 0.05137,
            21: 0.50015}),
    (0.80, {2: 0.09420, 3: 0.18088, 6: 0.11972, 7: 0.08550, 8: 0.09816, 17: 0.07194, 26: 0.34960}),
    (0.75, {2: 0.10805, 3: 0.09511, 4: 0.01449, 5: 0.13764, 6: 0.10667, 7: 0.05288, 28: 0.01107,
            31: 0.47408}),
    (0.70, {2: 0.05343, 3: 0.29406, 6: 0.00896, 9: 0.15571, 12: 0.12189, 25: 0.19872, 46: 0.09572,
            62: 0.02741, 65: 0.04056, 73: 0.00354}),
    (0.65, {2: 0.10451, 3: 0.15652, 4: 0.08057, 5: 0.00056, 9: 0.12151, 13: 0.10485, 15: 0.10719,
            21: 0.00771, 51: 0.31656}),
    (0.60, {2: 0.11040, 3: 0.20804, 8: 0.14163, 9: 0.14858, 26: 0.14438, 27: 0.08909, 46: 0.00748,
            71: 0.15038}),
    (0.55, {2: 0.16880, 3: 0.20994, 6: 0.18095, 15: 0.03846, 16: 0.02635, 18: 0.23454, 19: 0.05815,
            31: 0.08280}),
    (0.50, {2: 0.14438, 3: 0.19026, 4: 0.01836, 5: 0.00233, 6: 0.04697, 8: 0.053943, 9: 0.05590,
            10: 0.01290, 11: 0.00162, 14: 0.06159, 15: 0.13115, 17: 0.01481, 47: 0.00879,
            49: 0.00650, 55: 0.00210, 56: 0.00099, 57: 0.11178, 58: 0.06238, 59: 0.05094,
            66: 0.02230}),
)

#: Public seed of the construction (any fixed value: the code must only be independent of the
#: raw keys and identical for Alice and Bob).
CODE_SEED = 0x6265_6C6C_626F_78  # "bellbox"

_MAX_REPAIR_ROUNDS = 200


class CodeShapeError(ValueError):
    """A code shape outside the allowed range (block length or syndrome length)."""


def variable_edge_fractions(code_rate: float) -> dict[int, float]:
    """The row of :data:`DEGREE_DISTRIBUTIONS` with the smallest design rate ``>= code_rate``
    (the highest-rate row above 0.90, the lowest-rate row below 0.50)."""
    rates = [rate for rate, _ in DEGREE_DISTRIBUTIONS]
    at_or_above = [row for row in DEGREE_DISTRIBUTIONS if row[0] >= code_rate - 1e-12]
    if not at_or_above:
        return DEGREE_DISTRIBUTIONS[rates.index(max(rates))][1]
    return min(at_or_above, key=lambda row: row[0])[1]


def column_degrees(block_length: int, syndrome_length: int) -> np.ndarray:
    """Column degrees in column order (before any repeated-edge merge).

    The distribution is :func:`variable_edge_fractions` of the rate ``1 - m/n``. Node
    fractions follow from the edge fractions: ``share_d = (lambda_d / d) / sum_k
    (lambda_k / k)``. Counts are rounded down except for the largest degree, which takes the
    remainder, and every degree is capped at ``syndrome_length``.
    """
    fractions = variable_edge_fractions(1.0 - syndrome_length / block_length)
    degrees = np.array(sorted(fractions))
    shares = np.array([fractions[d] / d for d in degrees])
    shares /= shares.sum()
    counts = np.floor(shares * block_length).astype(np.int64)
    counts[-1] = block_length - counts[:-1].sum()
    return np.minimum(np.repeat(degrees, counts), syndrome_length)


@lru_cache(maxsize=16)
def parity_check_matrix(block_length: int, syndrome_length: int) -> scipy.sparse.csr_matrix:
    """The ``syndrome_length x block_length`` parity-check matrix ``H`` (0/1 ``uint8`` CSR).

    Deterministic in ``(block_length, syndrome_length)``; cached (the result is shared, do not
    modify it). Requires ``1 <= syndrome_length < block_length``.
    """
    if block_length < 2:
        raise CodeShapeError(f"block_length must be >= 2, got {block_length}")
    if not 1 <= syndrome_length < block_length:
        raise CodeShapeError(
            f"syndrome_length must be in [1, block_length - 1 = {block_length - 1}], "
            f"got {syndrome_length}"
        )
    rng = np.random.default_rng([CODE_SEED, block_length, syndrome_length])
    degrees = column_degrees(block_length, syndrome_length)
    rng.shuffle(degrees)
    columns = np.repeat(np.arange(block_length, dtype=np.int64), degrees)
    rows = np.arange(columns.size, dtype=np.int64) % syndrome_length
    rng.shuffle(rows)
    for _ in range(_MAX_REPAIR_ROUNDS):
        repeated = _repeated_sockets(columns, rows, syndrome_length)
        if repeated.size == 0:
            break
        partners = rng.integers(0, columns.size, repeated.size)
        rows[repeated], rows[partners] = rows[partners], rows[repeated].copy()
    matrix = scipy.sparse.csr_matrix(
        (np.ones(columns.size, dtype=np.uint8), (rows, columns)),
        shape=(syndrome_length, block_length),
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1
    return matrix


def _repeated_sockets(columns: np.ndarray, rows: np.ndarray, syndrome_length: int) -> np.ndarray:
    """Indices of sockets whose (column, row) pair already occurred at an earlier socket."""
    keys = columns * syndrome_length + rows
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    return order[1:][sorted_keys[1:] == sorted_keys[:-1]]
