"""``fake-exact:NAME`` against the shot path ``fake:NAME`` (qdevices.noisy_exact).

The exact table and the shot sampler are computed by different code (density-matrix
probabilities + readout matrices vs. IBM Runtime local-mode shots with the backend's noise
model), so agreement is an independent check. Statistical test: for each setting, Pearson's
chi-square of the shot-mode outcome counts against the fake-exact probabilities, significance
level ``ALPHA = 1e-3`` over all settings of a backend with a Bonferroni correction (each
setting tested at ``ALPHA / S``); fixed seeds, so the test is deterministic.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chisquare

pytest.importorskip("qiskit_ibm_runtime")

from qdevices.backends import make_execution  # noqa: E402
from qdevices.devices import ChainedBellDevice  # noqa: E402
from qdevices.errors import DeviceInputError  # noqa: E402

ALPHA = 1e-3
ROUNDS = 20_000
SEED = 20_261_201


@pytest.mark.parametrize(("name", "noise"), [("perth", 0.0), ("oslo", 0.0), ("perth", 0.2)])
def test_fake_exact_matches_shot_mode(name: str, noise: float) -> None:
    """Noise 0.2 adds the white-noise mixture's basis-state components (several circuits)."""
    settings = 2
    exact = ChainedBellDevice(settings, noise, backend=f"fake-exact:{name}", seed=SEED)
    shots = ChainedBellDevice(settings, noise, backend=f"fake:{name}", seed=SEED)
    assert exact.describe()["layout"] == shots.describe()["layout"]
    table = exact.outcome_table()
    num_settings = table.shape[0]
    rng = np.random.default_rng(SEED)
    inputs = np.stack([rng.integers(0, c, ROUNDS) for c in exact.setting_counts], axis=1)
    outputs = shots.measure(inputs)
    index = exact.setting_index(inputs)
    codes = outputs[:, 0] + 2 * outputs[:, 1]
    for setting in range(num_settings):
        observed = np.bincount(codes[index == setting], minlength=4)
        expected = table[setting] * observed.sum()
        p_value = chisquare(observed, expected).pvalue
        assert p_value > ALPHA / num_settings, (name, setting, observed, expected, p_value)


def test_fake_exact_is_noisier_than_ideal() -> None:
    """W-bar of the noisy model exceeds the noiseless EPR value sin^2(pi/4M) (paper 000 eq. (7))."""
    settings = 3
    device = ChainedBellDevice(settings, backend="fake-exact:perth", seed=SEED)
    table = device.outcome_table()
    w_values = []
    for x in range(settings):
        for y in range(settings):
            if (x - y) % settings <= 1:
                s = device.setting_index(np.array([[x, y]]))[0]
                flip = int(x == 0 and y == settings - 1)
                # W = a XOR b XOR flip; code = a + 2 b
                w_values.append(table[s, [1, 2]].sum() if not flip else table[s, [0, 3]].sum())
    noiseless = np.sin(np.pi / (4 * settings)) ** 2
    assert np.mean(w_values) > noiseless
    assert np.mean(w_values) < 0.5


def test_fake_exact_report_and_table() -> None:
    execution = make_execution("fake-exact:perth")
    assert execution.mode == "fake-exact"
    device = ChainedBellDevice(2, backend=execution, seed=SEED)
    report = device.describe()
    assert report["mode"] == "fake-exact" and report["hardware"] is False
    table = device.outcome_table()
    assert table.shape == (6, 4)
    np.testing.assert_allclose(table.sum(axis=1), 1.0, atol=1e-12)
    assert np.all(table > 0)


def test_fake_exact_unknown_name() -> None:
    with pytest.raises(DeviceInputError, match="unknown fake backend 'nowhere'"):
        make_execution("fake-exact:nowhere")
