"""The no-signalling test (protocols.bell.signalling) and its report in ``bellbox devices``.

Quantum devices obey no-signalling by construction (tensor-product measurements), so their
p-value must stay above the significance level; a box whose Bob depends on Alice's setting by
+-0.02 in probability must be caught at 2e5 rounds (the effect is about 9 standard deviations).
Seeds fixed, so every case is deterministic.
"""

from __future__ import annotations

import itertools
import json

import numpy as np

from protocols.bell.signalling import signalling_test
from protocols.cli import main
from protocols.cli.devices import SIGNALLING_SIGNIFICANCE, signalling_report
from qdevices import ChainedBellDevice, FourPartyDevice
from qdevices.devices import TabulatedBox, setting_grid


def test_signalling_detector_accepts_quantum_devices_and_catches_a_signalling_box() -> None:
    """No-signaling holds for the devices (p > 1e-3); a box whose Bob copies Alice's setting bit is caught."""
    rng = np.random.default_rng(3)
    for device, counts in [(ChainedBellDevice(3, 0.05, seed=4), (3, 4)), (FourPartyDevice(0.05, seed=5), (2, 2, 2, 2))]:
        inputs = np.stack([rng.integers(0, c, 2 * 10**5) for c in counts], axis=1)
        assert not signalling_test(inputs, device.measure(inputs), counts).signals(1e-3)

    class SignallingBox(TabulatedBox):
        setting_counts = (2, 2)

    grid = setting_grid((2, 2))
    table = np.zeros((4, 4))
    for s, (x, _) in enumerate(grid):
        # Alice uniform, Bob's bit is 1 with probability 0.5 + 0.02 (2x - 1): a small signal
        pb1 = 0.5 + 0.02 * (2 * x - 1)
        for a, b in itertools.product((0, 1), repeat=2):
            table[s, 2 * a + b] = 0.5 * (pb1 if b else 1 - pb1)
    inputs = np.stack([rng.integers(0, 2, 2 * 10**5) for _ in range(2)], axis=1)
    result = signalling_test(inputs, SignallingBox(table, seed=6).measure(inputs), (2, 2))
    assert result.signals(1e-3) and result.worst_party == 1


def test_devices_command_reports_the_signalling_test(capsys) -> None:
    """``bellbox devices --json`` carries the test on the run's own rounds, and the text says it."""
    assert main(["devices", "--kind", "four-party", "--noise", "0.05", "--rounds", "20000", "--seed", "3", "--json"]) == 0
    test = json.loads(capsys.readouterr().out)["no_signalling_test"]
    assert test["tests"] == 8 and test["significance"] == SIGNALLING_SIGNIFICANCE
    assert test["signals"] is False and SIGNALLING_SIGNIFICANCE < test["p_value"] <= 1.0
    assert main(["devices", "--rounds", "20000", "--seed", "3"]) == 0
    assert "no-signalling test: p = " in capsys.readouterr().out
    assert main(["devices", "--rounds", "2", "--seed", "3", "--json"]) == 0
    tiny = json.loads(capsys.readouterr().out)["no_signalling_test"]
    assert tiny["tests"] == 0 and tiny["p_value"] is None and tiny["signals"] is None


def test_signalling_report_flags_a_signalling_box() -> None:
    """Bob outputs Alice's setting bit: p-value 0 and ``signals`` set, naming Bob (party 1)."""
    rng = np.random.default_rng(7)
    inputs = np.stack([rng.integers(0, 2, 4000), rng.integers(0, 2, 4000)], axis=1)
    outputs = np.stack([rng.integers(0, 2, 4000), inputs[:, 0]], axis=1).astype(np.uint8)
    report = signalling_report(inputs, outputs, (2, 2))
    assert report["signals"] is True and report["worst_party"] == 1 and report["p_value"] < 1e-100
