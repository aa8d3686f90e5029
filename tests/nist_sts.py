"""Three statistical tests in the style of NIST SP 800-22 rev. 1a (Sec. 2.1-2.3), for tests only.

Each returns the p-value; a sequence passes at significance level ``alpha`` when
``p >= alpha`` (SP 800-22 uses ``alpha = 0.01``).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erfc, gammaincc


def frequency_test(bits: np.ndarray) -> float:
    """Monobit test (SP 800-22 Sec. 2.1): ``p = erfc(|sum(2b - 1)| / sqrt(2 n))``."""
    n = bits.size
    total = 2 * int(np.count_nonzero(bits)) - n
    return float(erfc(abs(total) / math.sqrt(2.0 * n)))


def block_frequency_test(bits: np.ndarray, block_size: int) -> float:
    """Block frequency test (Sec. 2.2): ``chi2 = 4 M sum (pi_i - 1/2)^2``, ``p = Q(N/2, chi2/2)``."""
    blocks = bits.size // block_size
    proportions = bits[: blocks * block_size].reshape(blocks, block_size).mean(axis=1)
    chi_squared = 4.0 * block_size * float(np.sum((proportions - 0.5) ** 2))
    return float(gammaincc(blocks / 2.0, chi_squared / 2.0))


def runs_test(bits: np.ndarray) -> float:
    """Runs test (Sec. 2.3); 0 when the frequency prerequisite ``|pi - 1/2| < 2/sqrt(n)`` fails."""
    n = bits.size
    ones = np.count_nonzero(bits) / n
    if abs(ones - 0.5) >= 2.0 / math.sqrt(n):
        return 0.0
    runs = 1 + int(np.count_nonzero(bits[1:] != bits[:-1]))
    spread = 2.0 * n * ones * (1.0 - ones)
    return float(erfc(abs(runs - spread) / (2.0 * math.sqrt(2.0 * n) * ones * (1.0 - ones))))
