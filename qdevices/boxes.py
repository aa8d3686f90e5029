"""Non-quantum boxes: local deterministic strategies and a super-quantum no-signaling box.

They share the quantum devices' ``measure`` interface, so protocols can be run against them:
a local strategy must always lead to an abort, and the no-signaling box below is accepted by
DI-QKD (whose security rests on no-signaling alone).
"""

from __future__ import annotations

import numpy as np

from .devices import TabulatedBox, outcome_codes, setting_grid
from .errors import DeviceInputError


def _deterministic_table(outputs: np.ndarray) -> np.ndarray:
    """Table ``P[s, code]`` of a box answering setting index ``s`` with the bits ``outputs[s]``
    (codes and indices as in :mod:`qdevices.devices`: party 1 most significant)."""
    codes = outcome_codes(outputs)
    table = np.zeros((outputs.shape[0], 2 ** outputs.shape[1]))
    table[np.arange(outputs.shape[0]), codes] = 1.0
    return table


def _bit_strategy(name: str, values: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    values = np.asarray(values)
    if values.shape != shape or not np.isin(values, (0, 1)).all():
        raise DeviceInputError(f"{name} must be a 0/1 array of shape {shape}, got {values.tolist()}")
    return values.astype(np.uint8)


class LocalChainedDevice(TabulatedBox):
    """A local deterministic strategy for the chained Bell test: ``a = alice[x]``, ``b = bob[y]``.

    Every local strategy obeys ``<W> >= 1/(2M)`` (paper 000 eq. (6)).
    """

    name = "chained-local"

    def __init__(self, alice: np.ndarray, bob: np.ndarray, seed: int | None = None) -> None:
        alice = np.asarray(alice)
        self.settings = int(alice.shape[0]) if alice.ndim == 1 else 0
        if self.settings < 2:
            raise DeviceInputError(f"alice must list one output per setting (M >= 2), got {alice.tolist()}")
        self.alice = _bit_strategy("alice", alice, (self.settings,))
        self.bob = _bit_strategy("bob", bob, (self.settings + 1,))
        self.setting_counts = (self.settings, self.settings + 1)
        grid = setting_grid(self.setting_counts)
        outputs = np.stack([self.alice[grid[:, 0]], self.bob[grid[:, 1]]], axis=1)
        super().__init__(_deterministic_table(outputs), seed)

    @classmethod
    def optimal(cls, settings: int, seed: int | None = None) -> "LocalChainedDevice":
        """A strategy reaching the local bound ``<W> = 1/(2M)``: all outputs 0.

        With ``a = b = 0`` only the pair ``(x, y) = (0, M-1)`` has ``W = 1`` (the ``delta`` term of
        eq. (4)), one of the ``2M`` equally likely pairs, and the key pair always agrees.
        """
        return cls(np.zeros(settings, np.uint8), np.zeros(settings + 1, np.uint8), seed)


class ChainedPRBox(TabulatedBox):
    """A no-signaling box with ``<W> = 0`` (super-quantum) and perfectly correlated key pair.

    ``a`` is a uniform bit and ``b = a XOR [x = 0 and y = M-1]`` for every ``y < M``, ``b = a`` for
    ``y = M``. Both marginals are uniform whatever the settings, so it does not signal.
    """

    name = "chained-pr"

    def __init__(self, settings: int, seed: int | None = None) -> None:
        if not isinstance(settings, (int, np.integer)) or settings < 2:
            raise DeviceInputError(f"settings (M) must be an integer >= 2, got {settings}")
        self.settings = int(settings)
        self.setting_counts = (self.settings, self.settings + 1)
        grid = setting_grid(self.setting_counts)
        flip = (grid[:, 0] == 0) & (grid[:, 1] == self.settings - 1)
        table = np.zeros((grid.shape[0], 4))
        # code = 2 a + b (qdevices.devices): equal outputs are codes 0 and 3, different ones 1 and 2
        table[~flip, 0] = table[~flip, 3] = 0.5
        table[flip, 1] = table[flip, 2] = 0.5
        super().__init__(table, seed)


class LocalFourPartyDevice(TabulatedBox):
    """A local deterministic four-party strategy: party ``i`` outputs ``strategy[i, u_i]``."""

    name = "four-party-local"
    setting_counts = (2, 2, 2, 2)

    def __init__(self, strategy: np.ndarray, seed: int | None = None) -> None:
        self.strategy = _bit_strategy("strategy", strategy, (4, 2))
        grid = setting_grid(self.setting_counts)
        outputs = self.strategy[np.arange(4), grid]
        super().__init__(_deterministic_table(outputs), seed)

    @staticmethod
    def all_strategies() -> np.ndarray:
        """All 2**8 deterministic strategies, shape ``(256, 4, 2)``."""
        index = np.arange(256)
        return ((index[:, None] >> np.arange(8)) & 1).reshape(256, 4, 2).astype(np.uint8)
