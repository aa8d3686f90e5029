"""A statistical test of no-signaling on recorded Bell-test rounds.

No-signaling (paper 000 eq. (1); paper 004 Sec. II) says each party's outcome distribution does
not depend on the other parties' settings. For every party ``i`` and each of its settings, the
rounds are split by the other parties' settings and a chi-square test of homogeneity asks
whether party ``i``'s outcome frequencies are the same in every group. The smallest p-value,
Bonferroni-corrected over the tests made, is reported; a device that signals drives it to 0 as
rounds accumulate, a non-signaling one leaves it uniform on [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2_contingency


@dataclass(frozen=True)
class SignallingTest:
    """Outcome of :func:`signalling_test`."""

    p_value: float  # Bonferroni-corrected smallest p-value
    tests: int
    worst_party: int
    worst_setting: int

    def signals(self, significance: float) -> bool:
        """True when no-signaling is rejected at ``significance``."""
        return self.p_value < significance


def signalling_test(inputs: np.ndarray, outputs: np.ndarray, setting_counts: tuple[int, ...]) -> SignallingTest:
    """Chi-square tests of each party's outcome marginal against the other parties' settings."""
    inputs, outputs = np.asarray(inputs), np.asarray(outputs)
    parties = len(setting_counts)
    smallest, tests, worst = 1.0, 0, (-1, -1)
    for party in range(parties):
        others = [p for p in range(parties) if p != party]
        other_index = np.ravel_multi_index(
            tuple(inputs[:, p] for p in others), tuple(setting_counts[p] for p in others)
        )
        for setting in range(setting_counts[party]):
            rows = inputs[:, party] == setting
            table = np.zeros((int(np.prod([setting_counts[p] for p in others])), 2))
            np.add.at(table, (other_index[rows], outputs[rows, party].astype(np.int64)), 1)
            table = table[table.sum(axis=1) > 0]
            table = table[:, table.sum(axis=0) > 0]
            if table.shape[0] < 2 or table.shape[1] < 2:
                continue
            p_value = chi2_contingency(table, correction=False).pvalue
            tests += 1
            if p_value < smallest:
                smallest, worst = p_value, (party, setting)
    return SignallingTest(min(1.0, smallest * max(tests, 1)), tests, *worst)
