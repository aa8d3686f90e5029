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
  term ``c x^(d-1)`` of their ``lambda(x)`` is the entry ``d: c`` here. One change: in the
  rate-0.80 row ``lambda_2`` is lowered from 0.09420 to 0.06451, the staircase bound
  ``0.98 x 2 sum_j rho_j / j`` at rate 0.80 (see "Construction"), and the difference added to
  ``lambda_3`` (0.18088 -> 0.21057); by the density evolution of ``benchmarks/ldpc_design.py``
  this lowers the threshold from 0.02963 to 0.02875 (``(1 - R) / h(p*)`` 1.039 -> 1.063).
* design rate 0.90 (used for every rate above 0.85): bellbox's own distribution
  ``{2: 0.0246, 3: 0.2, 6: 0.07754, 12: 0.31016, 50: 0.3877}`` (check side concentrated on
  degrees 79/80), designed with ``benchmarks/ldpc_design.py``: discretised density evolution
  of sum-product decoding on the BSC (Richardson, Shokrollahi, Urbanke, IEEE Trans. Inf.
  Theory 47(2), 619 (2001); quantised check rule of Chung, Forney, Richardson, Urbanke, IEEE
  Commun. Lett. 5(2), 58 (2001)), searched over a family with ``lambda_2`` at the staircase
  bound ``lambda_2 / 2 <= sum_j rho_j / j`` (degree-2 columns fewer than rows, see
  "Construction") and ``lambda_3``, high degrees varied (40 candidates, grids in that script).
  Its threshold is ``p* = 0.01233`` at rate 0.90, ``(1 - R) / h(p*) = 1.043`` (the previous
  own row ``{3: 0.3, 16: 0.7}`` has ``p* = 0.01090``, 1.153, and Elkouss et al.'s rate-0.90
  row 0.0109, 1.145). The same DE gives 0.08403 for the regular (3, 6) code (0.084,
  Richardson & Urbanke, IEEE Trans. Inf. Theory 47(2), 599 (2001)) and 0.01979 / 0.02963 for
  Elkouss et al.'s rate-0.85 / 0.80 rows (their 0.0199 / 0.0298).

The check (row) side is *concentrated*: row degrees are ``floor(E / m)`` or ``ceil(E / m)``
(see "Construction"). This is the form of every ``rho(x)`` in Elkouss et al.'s table
(two consecutive degrees), with the average degree ``E / m`` that the actual ``(n, m)`` needs;
the rate therefore may differ a little from the row's design rate, which moves the threshold
slightly (the measured efficiencies in :mod:`protocols.qkd.reconciliation` are for the actual
codes).

Construction (a "configuration model" random graph, Richardson & Urbanke, *Modern Coding
Theory*, Sec. 3.3, with the degree-2 columns on a staircase as in the accumulator of
irregular repeat-accumulate codes, Jin, Khandekar, McEliece, Proc. 2nd Int. Symp. Turbo
Codes (2000)):

* node fractions from edge fractions, ``share_d = (lambda_d / d) / sum_k (lambda_k / k)``;
  a column of degree ``d`` (capped at ``m``) receives ``d`` edge sockets; the column order is
  a seeded random permutation;
* *staircase*: the first ``min(n_2, m - 1)`` degree-2 columns (``n_2`` of them in all) join
  rows ``(j, j + 1)``, ``j = 0, 1, ...``: they form a path, so no cycle consists of degree-2
  columns only (these cycles are the low-weight codewords and trapping sets behind the error
  floor of random constructions; Richardson, "Error floors of LDPC codes", Allerton 2003).
  All of them fit where ``n_2 < m``: the rate-0.85 row at 2 % errors (14 % of the columns
  against 17 % rows), the rate-0.90 row up to its design rate (at 1 % errors the code has rate
  0.904 and 9.8 % degree-2 columns against 9.6 % rows: the excess 0.2 % are placed at random,
  each closing one long cycle with the staircase path). Elkouss et al.'s rate-0.80 row has
  more (28 % of the columns against 22 % rows at 3 %); placed at random, the excess degree-2
  columns are chords of the staircase path, and a chord of span ``s`` closes a codeword of
  weight ``s + 1``: with them the 3 % code failed 11 of 100 frames (seeds 0-99, i.i.d. errors
  at the design rate). The rate-0.80 row is therefore used with ``lambda_2`` lowered to the
  staircase bound (see the table);
* the other sockets receive row slots so that every row's total degree is
  ``floor(E / m)`` or ``ceil(E / m)`` (concentrated), matched through a uniformly random
  permutation;
* repeated (column, row) pairs are removed by swapping the row of a repeated socket with the
  row of a random socket (one swap at a time, so every row and column degree is kept); any
  pair still repeated after :data:`_MAX_REPAIR_ROUNDS` rounds is merged into a single edge
  (the column loses one edge; this only happens for very short codes).

Building the matrix takes about 0.5 s at ``n = 2^18`` and 3 s at ``n = 2^20`` (rate 0.9).
Other short cycles are not removed (no progressive edge growth: in Python it would not build
``n = 2^20`` in seconds).
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
    (0.90, {2: 0.02460, 3: 0.20000, 6: 0.07754, 12: 0.31016, 50: 0.38770}),  # bellbox's own (docstring)
    (0.85, {2: 0.04528, 3: 0.20537, 4: 0.05878, 5: 0.04274, 6: 0.08454, 7: 0.01176, 9: 0.05137,
            21: 0.50015}),
    (0.80, {2: 0.06451, 3: 0.21057, 6: 0.11972, 7: 0.08550, 8: 0.09816, 17: 0.07194, 26: 0.34960}),
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
    m = syndrome_length
    # staircase: the first min(#degree-2, m - 1) degree-2 columns (in the shuffled order)
    # join rows (j, j + 1), j = 0, 1, ...: a path, so they close no cycle among themselves
    two = np.flatnonzero(degrees == 2)[: max(0, m - 1)]
    stair_columns = np.repeat(two, 2)
    stair_rows = np.arange(two.size, dtype=np.int64).repeat(2) + np.tile([0, 1], two.size)
    # the other sockets: row slots so that every row's total degree is floor or ceil of E / m
    free = np.ones(block_length, dtype=bool)
    free[two] = False
    columns = np.repeat(np.arange(block_length, dtype=np.int64)[free], degrees[free])
    total = columns.size + stair_rows.size
    target = np.full(m, total // m, dtype=np.int64)
    target[: total % m] += 1
    capacity = target - np.bincount(stair_rows, minlength=m)
    rows = _deal_rows(np.maximum(capacity, 0), columns.size)
    rng.shuffle(rows)
    for _ in range(_MAX_REPAIR_ROUNDS):
        repeated = _repeated_sockets(columns, rows, m)
        if repeated.size == 0:
            break
        for socket, partner in zip(repeated.tolist(), rng.integers(0, columns.size, repeated.size).tolist()):
            rows[socket], rows[partner] = rows[partner], rows[socket]  # one exact swap at a time
    matrix = scipy.sparse.csr_matrix(
        (np.ones(columns.size + stair_columns.size, dtype=np.uint8),
         (np.concatenate([rows, stair_rows]), np.concatenate([columns, stair_columns]))),
        shape=(m, block_length),
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1
    return matrix


def _deal_rows(capacity: np.ndarray, sockets: int) -> np.ndarray:
    """``sockets`` row indices: row ``r`` ``capacity[r]`` times, in row order; if the capacities
    add up to fewer than ``sockets`` (tiny codes, where the staircase alone exceeds a row's
    target), the missing ones cycle over all rows, and if to more, the last are dropped."""
    rows = np.repeat(np.arange(capacity.size, dtype=np.int64), capacity)
    if rows.size >= sockets:
        return rows[:sockets]
    return np.concatenate([rows, np.arange(sockets - rows.size, dtype=np.int64) % capacity.size])


def _repeated_sockets(columns: np.ndarray, rows: np.ndarray, syndrome_length: int) -> np.ndarray:
    """Indices of sockets whose (column, row) pair already occurred at an earlier socket."""
    keys = columns * syndrome_length + rows
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    return order[1:][sorted_keys[1:] == sorted_keys[:-1]]
