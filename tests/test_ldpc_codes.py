"""Construction of the LDPC parity-check matrices (protocols.qkd.ldpc_codes).

Deterministic constructions only (no statistics): every assertion is exact.
"""

from __future__ import annotations

import numpy as np
import pytest

from protocols.qkd import ldpc_codes
from protocols.qkd.ldpc_codes import column_degrees, parity_check_matrix


def _column_weights(matrix) -> np.ndarray:
    return np.asarray(matrix.sum(axis=0)).ravel()


def _degree_two_graph_has_a_cycle(matrix) -> bool:
    """Union-find over rows, one edge per weight-2 column: a cycle iff an edge joins a component to itself."""
    csc = matrix.tocsc()
    parent = list(range(matrix.shape[0]))

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for column in np.flatnonzero(_column_weights(matrix) == 2):
        a, b = (root(int(r)) for r in csc.indices[csc.indptr[column] : csc.indptr[column + 1]])
        if a == b:
            return True
        parent[a] = b
    return False


@pytest.mark.parametrize(("n", "m"), [(20_000, 2_000), (20_000, 3_000), (40_000, 8_000)])
def test_degree_two_columns_fewer_than_rows_form_no_cycle(n: int, m: int) -> None:
    # rates 0.90, 0.85, 0.80: where the row's degree-2 columns are fewer than the rows, all of
    # them lie on the staircase (rows j, j+1), a path: no cycle among degree-2 columns.
    matrix = parity_check_matrix(n, m)
    twos = int((column_degrees(n, m) == 2).sum())
    assert 0 < twos  # the rows used here do have degree-2 columns
    if twos <= m - 1:
        assert int((_column_weights(matrix) == 2).sum()) == twos
        assert not _degree_two_graph_has_a_cycle(matrix)
    else:  # only m - 1 of them fit on the staircase; the others are placed at random
        assert int((_column_weights(matrix) == 2).sum()) >= m - 1


def test_the_cycle_check_detects_a_cycle() -> None:
    # three weight-2 columns on rows {0,1}, {1,2}, {0,2}: a 6-cycle among degree-2 columns.
    import scipy.sparse

    rows, cols = [0, 1, 1, 2, 0, 2], [0, 0, 1, 1, 2, 2]
    matrix = scipy.sparse.csr_matrix((np.ones(6, np.uint8), (rows, cols)), shape=(3, 3))
    assert _degree_two_graph_has_a_cycle(matrix)


@pytest.mark.parametrize(("n", "m"), [(30_000, 3_100), (30_000, 5_000), (50_001, 9_999)])
def test_realised_degrees_are_the_planned_ones_and_rows_are_concentrated(n: int, m: int) -> None:
    matrix = parity_check_matrix(n, m)
    assert matrix.shape == (m, n)
    assert set(np.unique(matrix.data)) == {1}
    # no edge merged away at these lengths: the column degrees are exactly the planned ones
    assert np.array_equal(np.sort(_column_weights(matrix)), np.sort(column_degrees(n, m)))
    rows = np.diff(matrix.indptr)
    assert rows.max() - rows.min() <= 1  # floor or ceil of E / m


def test_construction_is_deterministic_in_n_and_m() -> None:
    first = parity_check_matrix(10_000, 1_000).copy()
    parity_check_matrix.cache_clear()
    assert (parity_check_matrix(10_000, 1_000) != first).nnz == 0
    assert (parity_check_matrix(10_000, 1_001)[:1_000] != first).nnz > 0


def test_table_rows_are_normalised_edge_distributions() -> None:
    for rate, fractions in ldpc_codes.DEGREE_DISTRIBUTIONS:
        assert sum(fractions.values()) == pytest.approx(1.0, abs=2e-4), rate
        assert all(d >= 2 and x > 0 for d, x in fractions.items()), rate
