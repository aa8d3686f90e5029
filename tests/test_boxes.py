"""Non-quantum boxes: local strategies obey the local bounds exactly, the PR box reaches <W> = 0."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from qdevices import ChainedPRBox, LocalChainedDevice, LocalFourPartyDevice
from qdevices.devices import setting_grid


def expected_w(table: np.ndarray, m: int) -> float:
    """<W> from a box's table: average over the 2M pairs of Q (eq. (5)) of P(a XOR b XOR delta = 1)."""
    total = 0.0
    for x, y in itertools.product(range(m), range(m)):
        if (x - y) % m in (0, 1):
            row = table[(m + 1) * x + y]  # setting index (M + 1) x + y, code 2a + b (party 1 first)
            flip = x == 0 and y == m - 1
            p_equal, p_differ = row[0] + row[3], row[1] + row[2]
            total += (p_equal if flip else p_differ) / (2 * m)
    return total


@pytest.mark.parametrize("m", [2, 3])
def test_every_local_chained_strategy_obeys_eq_6(m: int) -> None:
    values = []
    for bits in itertools.product((0, 1), repeat=2 * m + 1):
        device = LocalChainedDevice(np.array(bits[:m]), np.array(bits[m:]))
        values.append(expected_w(device.table, m))
    assert min(values) == pytest.approx(1 / (2 * m))


def test_optimal_local_and_pr_box() -> None:
    m = 7
    assert expected_w(LocalChainedDevice.optimal(m).table, m) == pytest.approx(1 / (2 * m))
    box = ChainedPRBox(m, seed=1)
    assert expected_w(box.table, m) == 0.0
    rng = np.random.default_rng(2)
    inputs = np.stack([rng.integers(0, m, 10**4), np.full(10**4, m)], axis=1)
    outputs = box.measure(inputs)
    assert np.array_equal(outputs[:, 0], outputs[:, 1])
    assert 0.45 < outputs[:, 0].mean() < 0.55


def test_local_four_party_strategies_enumerated() -> None:
    strategies = LocalFourPartyDevice.all_strategies()
    assert strategies.shape == (256, 4, 2)
    assert len({s.tobytes() for s in strategies}) == 256
    grid = setting_grid((2, 2, 2, 2))
    for strategy in strategies[[0, 77, 255]]:
        device = LocalFourPartyDevice(strategy)
        outputs = device.measure(grid)
        assert np.array_equal(outputs, strategy[np.arange(4), grid])
