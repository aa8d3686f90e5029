r"""Parity-check matrices of irregular LDPC codes for syndrome-based error correction.

A code is fixed by its block length ``n`` and syndrome length ``m`` (the number of parity
checks, i.e. the number of bits Alice publishes per block). The matrix is built
deterministically from ``(n, m)`` and a fixed public seed, so Alice and Bob (and anyone
checking a transcript) build the same matrix without exchanging anything; it does not depend
on the raw keys.

Construction (a "configuration model" random graph, Richardson & Urbanke, *Modern Coding
Theory*, Sec. 3.3):

* variable (column) degrees follow the edge-perspective distribution
  :data:`VARIABLE_EDGE_FRACTIONS` (30 % of the edges on degree-3 columns, 70 % on degree-16
  columns), capped at ``m``; a column of degree ``d`` receives ``d`` edge sockets;
* the ``E`` row slots are ``k mod m`` for ``k < E``, so row degrees differ by at most one
  (check-concentrated, the good choice for the BSC), and a uniformly random permutation of
  the slots is matched to the column sockets;
* repeated (column, row) pairs are removed by swapping the row of a repeated socket with the
  row of a random socket, which keeps every row and column degree; any pair still repeated
  after :data:`_MAX_REPAIR_ROUNDS` rounds is merged into a single edge (the column loses one
  edge; this only happens for very short codes).

The degree distribution was chosen by Monte-Carlo (population) density evolution of
sum-product decoding on the binary symmetric channel at rate 0.9, over mixtures of degrees
{2, 3, 6, 10, 16}, then by finite-length simulation with ``ldpc``'s decoder: it reached a
threshold efficiency ``(1 - R) / h(p*)`` of about 1.16, against 1.6 for the regular
column-weight-3 code. Degree-2 columns were left out: at high rate they outnumber the checks
and close cycles among themselves (low-weight codewords). Short cycles are not removed
(progressive edge growth would lower the error floor; the frame errors measured here come
from the waterfall, not the floor). Figures: ``benchmarks/bench_reconciliation.py``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.sparse

#: Edge-perspective variable-degree distribution ``lambda_d`` (fraction of edges on columns
#: of degree ``d``).
VARIABLE_EDGE_FRACTIONS: dict[int, float] = {3: 0.3, 16: 0.7}

#: Public seed of the construction (any fixed value: the code must only be independent of the
#: raw keys and identical for Alice and Bob).
CODE_SEED = 0x6265_6C6C_626F_78  # "bellbox"

_MAX_REPAIR_ROUNDS = 200


class CodeShapeError(ValueError):
    """A code shape outside the allowed range (block length or syndrome length)."""


def column_degrees(block_length: int, syndrome_length: int) -> np.ndarray:
    """Column degrees in column order (before any repeated-edge merge).

    Node fractions follow from the edge fractions: ``share_d = (lambda_d / d) / sum_k
    (lambda_k / k)``. Counts are rounded down except for the largest degree, which takes the
    remainder, and every degree is capped at ``syndrome_length``.
    """
    degrees = np.array(sorted(VARIABLE_EDGE_FRACTIONS))
    shares = np.array([VARIABLE_EDGE_FRACTIONS[d] / d for d in degrees])
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
