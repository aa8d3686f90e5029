"""``fake-exact:NAME`` against the shot path ``fake:NAME`` (qdevices.noisy_exact).

The exact table and the shot sampler are computed by different code (density-matrix
probabilities + readout matrices vs. IBM Runtime local-mode shots with the backend's noise
model), so agreement is an independent check. Statistical test: for each setting, Pearson's
chi-square of the shot-mode outcome counts against the fake-exact probabilities, significance
level ``ALPHA = 1e-3`` over all settings of a backend with a Bonferroni correction (each
setting tested at ``ALPHA / S``); outcome cells whose expected count is below 5 are pooled into
one cell (Cochran's rule, so the chi-square law applies). Two backends (fake:perth, fake:oslo),
fixed seeds, so the test is deterministic. A wrong readout orientation or a missing gate error
moves the per-setting frequencies by percents, i.e. tens of standard deviations at these counts.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chisquare

pytest.importorskip("qiskit_ibm_runtime")

from qdevices.backends import make_execution  # noqa: E402
from qdevices.devices import ChainedBellDevice, FourPartyDevice  # noqa: E402
from qdevices.errors import DeviceInputError  # noqa: E402

ALPHA = 1e-3
ROUNDS = 20_000
SEED = 20_261_201


def per_setting_p_values(exact, shots, rounds: int) -> np.ndarray:
    """Pearson p-value of each setting's shot-mode outcome counts against the exact table."""
    table = exact.outcome_table()
    rng = np.random.default_rng(SEED)
    inputs = np.stack([rng.integers(0, c, rounds) for c in exact.setting_counts], axis=1)
    outputs = shots.measure(inputs)
    index = exact.setting_index(inputs)
    codes = outputs.astype(np.int64) @ (1 << np.arange(outputs.shape[1] - 1, -1, -1))  # party 1 most significant
    p_values = []
    for setting in range(table.shape[0]):
        observed = np.bincount(codes[index == setting], minlength=table.shape[1])
        expected = table[setting] * observed.sum()
        small = expected < 5
        if small.any():
            observed = np.append(observed[~small], observed[small].sum())
            expected = np.append(expected[~small], expected[small].sum())
        p_values.append(chisquare(observed, expected).pvalue)
    return np.array(p_values)


@pytest.mark.parametrize(("name", "noise"), [("perth", 0.0), ("oslo", 0.0), ("perth", 0.2)])
def test_fake_exact_matches_shot_mode(name: str, noise: float) -> None:
    """Noise 0.2 adds the white-noise mixture's basis-state components (several circuits)."""
    settings = 2
    exact = ChainedBellDevice(settings, noise, backend=f"fake-exact:{name}", seed=SEED)
    shots = ChainedBellDevice(settings, noise, backend=f"fake:{name}", seed=SEED)
    assert exact.describe()["layout"] == shots.describe()["layout"]
    p_values = per_setting_p_values(exact, shots, ROUNDS)
    assert p_values.min() > ALPHA / p_values.size, (name, p_values)


def test_four_party_fake_exact_matches_shot_mode() -> None:
    """The four-party device (16 settings, 16 outcomes, routed CZ triangle) on fake:oslo."""
    exact = FourPartyDevice(backend="fake-exact:oslo", seed=SEED)
    shots = FourPartyDevice(backend="fake:oslo", seed=SEED)
    assert exact.describe()["layout"] == shots.describe()["layout"]
    p_values = per_setting_p_values(exact, shots, ROUNDS)
    assert p_values.min() > ALPHA / p_values.size, p_values


def test_shot_mode_noise_model_is_the_backend_model_on_the_used_qubits() -> None:
    """The local-mode simulator's noise model (built once, on a sub-target; qdevices.noisy_exact)
    holds exactly the errors of the whole backend's ``NoiseModel.from_backend`` whose qubits lie
    in the transpiled circuits' qubits, gate errors and readout errors alike."""
    from qiskit_aer.noise import NoiseModel

    from qdevices.backends import fake_backend
    from qdevices.layout import active_qubits

    shots = ChainedBellDevice(2, backend="fake:perth", seed=SEED)
    used = set(active_qubits(shots.execution.transpiled(shots.family)))
    model = shots.execution.sampler.backend().options.noise_model
    full = NoiseModel.from_backend(fake_backend("perth"))
    expected_readout = {q: e for q, e in full._local_readout_errors.items() if set(q) <= used}
    assert {q[0] for q in expected_readout} == used
    assert model._local_readout_errors == expected_readout
    expected_gates = {name: {q: e for q, e in errors.items() if set(q) <= used}
                      for name, errors in full._local_quantum_errors.items()}
    expected_gates = {name: errors for name, errors in expected_gates.items() if errors}
    assert model._local_quantum_errors == expected_gates


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
                # W = a XOR b XOR flip; code = 2 a + b
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
