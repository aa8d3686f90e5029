"""The Braunstein-Caves (chained) Bell quantity of paper 000, eqs. (4)-(6) and (12)-(13).

With ``M`` settings, Alice ``x in {0..M-1}``, Bob ``y in {0..M}`` and outcomes ``a, b in {0, 1}``:

* ``W = a XOR b XOR [x = 0 and y = M-1]`` (eq. (4)), averaged over the pairs ``(x, y)`` with
  ``(x - y) mod M in {0, 1}`` (and ``y < M``), each of weight ``1/(2M)`` (``Q_{x,y}``, eq. (5));
* local boxes obey ``<W> >= 1/(2M)`` (eq. (6)), the EPR pair reaches ``sin^2(pi/4M)`` (eq. (7));
* the key pair is ``(x, y) = (0, M)``, where honest devices agree up to the error rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def in_estimation_support(x: np.ndarray, y: np.ndarray, settings: int) -> np.ndarray:
    """Boolean mask of the pairs in the support of ``Q_{x,y}`` (eq. (5)): ``(x - y) mod M in {0,1}``.

    Bob's key setting ``y = M`` is never in the support. For ``x, y in {0, ..., M-1}`` the
    difference is 0 or 1 mod M exactly when ``x = y``, ``x = y + 1`` or ``(x, y) = (0, M - 1)``;
    these comparisons run in the inputs' own (e.g. ``uint8``) dtype, with no modulo (``x > y``
    guards ``x = y + 1`` against ``y + 1`` wrapping around at the dtype's largest value).
    """
    x, y = np.asarray(x), np.asarray(y)
    next_pair = (x > y) & (x == y + 1)
    return (y < settings) & ((x == y) | next_pair | ((x == 0) & (y == settings - 1)))


def bell_indicator(a: np.ndarray, b: np.ndarray, x: np.ndarray, y: np.ndarray, settings: int) -> np.ndarray:
    """``W_n = a XOR b XOR [x = 0 and y = M-1]`` (eq. (4)) per round, as ``uint8``."""
    a, b, x, y = (np.asarray(v) for v in (a, b, x, y))
    flip = (x == 0) & (y == settings - 1)
    return (a.astype(np.uint8) ^ b.astype(np.uint8) ^ flip.astype(np.uint8)).astype(np.uint8)


@dataclass(frozen=True)
class ChainedStatistics:
    """Bell value over the estimation support and error rate on the key pair."""

    settings: int
    bell_value: float
    bell_rounds: int
    bell_standard_error: float
    key_error_rate: float
    key_rounds: int
    key_error_standard_error: float

    @property
    def local_bound(self) -> float:
        """``1/(2M)``: every local box has ``<W>`` at least this (eq. (6))."""
        return 1.0 / (2 * self.settings)


def _mean_and_error(values: np.ndarray) -> tuple[float, float]:
    if values.size == 0:
        return float("nan"), float("nan")
    mean = float(values.mean())
    return mean, float(np.sqrt(mean * (1.0 - mean) / values.size))


def chained_statistics(inputs: np.ndarray, outputs: np.ndarray, settings: int) -> ChainedStatistics:
    """Estimate ``<W>`` and the key-pair error rate from rounds ``inputs = (x, y)``, ``outputs = (a, b)``.

    All rounds in the support of ``Q`` are used (an unbiased estimate of ``<W>`` when the settings
    are uniform on that support); the protocol's own estimate uses only its test rounds
    (eq. (13)).
    """
    x, y = inputs[:, 0], inputs[:, 1]
    a, b = outputs[:, 0], outputs[:, 1]
    support = in_estimation_support(x, y, settings)
    bell, bell_error = _mean_and_error(bell_indicator(a[support], b[support], x[support], y[support], settings))
    key = (x == 0) & (y == settings)
    qber, qber_error = _mean_and_error(a[key] != b[key])
    return ChainedStatistics(
        settings=settings,
        bell_value=bell,
        bell_rounds=int(support.sum()),
        bell_standard_error=bell_error,
        key_error_rate=qber,
        key_rounds=int(key.sum()),
        key_error_standard_error=qber_error,
    )


def quantum_bell_value(settings: int, noise: float) -> float:
    """``<W>`` of the noisy EPR state with the measurements of Sec. III C: eq. (26)."""
    return (1.0 - noise) * np.sin(np.pi / (4 * settings)) ** 2 + noise / 2


def noise_equivalent(bell_value: float, settings: int) -> float:
    """The white noise xi whose eq. (26) value equals ``bell_value``, clipped to [0, 1]:
    ``xi = (<W> - s) / (1/2 - s)`` with ``s = sin^2(pi/4M)``."""
    ideal = np.sin(np.pi / (4 * settings)) ** 2
    return float(min(max((bell_value - ideal) / (0.5 - ideal), 0.0), 1.0))


def table_bell_value(table: np.ndarray, settings: int) -> float:
    """``<W>`` of a two-party device with exact table ``P[setting index, outcome code]``
    (qdevices' codes: setting ``(M + 1) x + y``, outcome ``2 a + b``): the mean over the 2M
    estimation pairs of eq. (12) of ``P(W = 1 | x, y)`` (eqs. (4)-(5))."""
    x, y = np.divmod(np.arange((settings + 1) * settings), settings + 1)
    a, b = np.divmod(np.arange(4), 2)
    support = in_estimation_support(x, y, settings)
    w = bell_indicator(a[None, :], b[None, :], x[support, None], y[support, None], settings)
    return float((np.asarray(table)[support] * w).sum(axis=1).mean())
