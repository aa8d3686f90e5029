"""Vectorised sampling of outcome codes from a per-setting probability table.

Walker's alias method, one table per setting: each of the ``K`` outcomes of setting ``s`` owns
a column ``j`` holding a cut ``q[s, j]`` and an alias ``r[s, j]``, built (Vose's construction)
so that ``P(k) = (1/K) sum_j ( q[s,j] [j = k] + (1 - q[s,j]) [r[s,j] = k] )`` exactly. A round
with uniform ``u`` takes column ``j = floor(K u)`` and outcome ``j`` if ``K u - j < q[s, j]``,
else ``r[s, j]``: two table lookups and one comparison per round, whatever ``K`` is, so
emulation is limited by memory bandwidth rather than by the number of outcomes. The fractional
part ``K u - j`` keeps ``53 - log2 K`` bits of ``u``.
"""

from __future__ import annotations

import numpy as np


def _alias_row(probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vose's alias table for one distribution over ``K`` outcomes."""
    k = probabilities.shape[0]
    scaled = probabilities * k
    cut = np.ones(k)
    alias = np.arange(k)
    small = [j for j in range(k) if scaled[j] < 1.0]
    large = [j for j in range(k) if scaled[j] >= 1.0]
    while small and large:
        low, high = small.pop(), large.pop()
        cut[low], alias[low] = scaled[low], high
        scaled[high] -= 1.0 - scaled[low]
        (small if scaled[high] < 1.0 else large).append(high)
    return cut, alias  # leftover columns (rounding) keep cut = 1, i.e. never alias


class TableSampler:
    """Draws outcome codes for rounds given their setting indices."""

    def __init__(self, table: np.ndarray) -> None:
        table = np.asarray(table, dtype=np.float64)
        if table.ndim != 2 or np.any(table < 0) or not np.allclose(table.sum(axis=1), 1.0):
            raise ValueError("table must be a (settings, outcomes) array of probability rows")
        self.table = table
        self._outcomes = table.shape[1]
        rows = [_alias_row(row / row.sum()) for row in table]
        self._cut = np.concatenate([cut for cut, _ in rows])
        code_type = np.uint8 if self._outcomes <= 256 else np.int64
        self._alias = np.concatenate([alias for _, alias in rows]).astype(code_type)
        self._column = np.tile(np.arange(self._outcomes), table.shape[0]).astype(code_type)

    def sample(self, setting_index: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One outcome code per round, rounds given by their setting index."""
        scaled = rng.random(setting_index.shape[0]) * self._outcomes
        column = scaled.astype(np.int64)
        fraction = scaled - column
        column += np.asarray(setting_index, dtype=np.int64) * self._outcomes
        keep = fraction < self._cut[column]
        return np.where(keep, self._column[column], self._alias[column])
