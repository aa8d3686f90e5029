"""W-bar from a device's exact table (protocols.bell.chained.table_bell_value) and its
noise-equivalent xi, against paper 000 eq. (26) in closed form."""

from __future__ import annotations

import math

import pytest

from protocols.bell.chained import noise_equivalent, table_bell_value
from qdevices import ChainedBellDevice, LocalChainedDevice


@pytest.mark.parametrize("settings", [2, 3, 7])
@pytest.mark.parametrize("noise", [0.0, 0.03, 0.2])
def test_table_bell_value_is_eq_26(settings: int, noise: float) -> None:
    expected = (1 - noise) * math.sin(math.pi / (4 * settings)) ** 2 + noise / 2  # eq. (26)
    w = table_bell_value(ChainedBellDevice(settings, noise).outcome_table(), settings)
    assert w == pytest.approx(expected, abs=1e-12)
    assert noise_equivalent(w, settings) == pytest.approx(noise, abs=1e-9)


def test_best_local_strategy_reaches_the_local_bound() -> None:
    # Paper 000: local strategies have <W> >= 1/(2M); the optimal one attains it (one failed pair of 2M).
    device = LocalChainedDevice.optimal(7)
    assert table_bell_value(device.table, 7) == pytest.approx(1 / 14, abs=1e-12)
    assert noise_equivalent(0.9, 7) == 1.0 and noise_equivalent(0.0, 7) == 0.0
