"""Vectorised sampling of outcome codes from a per-setting probability table.

Given ``P[s, k]`` (setting ``s``, outcome code ``k``) and one setting per round, each round's
outcome is drawn by inverting its setting's cumulative distribution. All settings are handled
in one ``np.searchsorted`` call: the thresholds ``s + C[s, k]`` (``C`` the cumulative sums,
``k < K-1``) of all settings form one increasing array, and a round with setting ``s`` and uniform
``u`` lands after exactly ``s (K-1) + #{k : C[s, k] <= u}`` thresholds. Since ``u < 1`` and
``C <= 1``, thresholds of other settings fall wholly before or after ``s + u``.
``s + u`` keeps at least ``53 - log2(S)`` bits of ``u``, ample for an emulator.
"""

from __future__ import annotations

import numpy as np


class TableSampler:
    """Draws outcome codes for rounds given their setting indices."""

    def __init__(self, table: np.ndarray) -> None:
        table = np.asarray(table, dtype=np.float64)
        if table.ndim != 2 or np.any(table < 0) or not np.allclose(table.sum(axis=1), 1.0):
            raise ValueError("table must be a (settings, outcomes) array of probability rows")
        self.table = table
        settings, outcomes = table.shape
        cumulative = np.cumsum(table, axis=1)[:, :-1]
        self._thresholds = (np.arange(settings)[:, None] + cumulative).ravel()
        self._outcomes = outcomes

    def sample(self, setting_index: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One outcome code per round (``int64``), rounds given by their setting index."""
        setting_index = np.asarray(setting_index, dtype=np.int64)
        position = setting_index + rng.random(setting_index.shape[0])
        codes = np.searchsorted(self._thresholds, position, side="right")
        codes -= setting_index * (self._outcomes - 1)
        return codes
