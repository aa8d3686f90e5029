"""Statistics of the quantum devices against the papers' closed forms.

Expected values are computed here from the papers, not from the device code:
chained device ``<W> = (1 - xi) sin^2(pi/4M) + xi/2`` (paper 000 eq. (26)) and key-pair error
rate ``xi/2``; four-party device Bell sum of paper 004 eq. (5) equal to ``4 xi``.
Tolerance: 5 binomial standard deviations of the expected value (seeded, so each run is
reproducible; a wrong sign convention or noise model moves the value by tens of sigmas).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chi2

from qdevices import ChainedBellDevice, FourPartyDevice

ROUNDS = 10**6
SIGMAS = 5.0


def uniform_inputs(counts: tuple[int, ...], rounds: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, c, rounds) for c in counts], axis=1)


def assert_binomial(successes: int, trials: int, p: float) -> None:
    """``successes / trials`` within 5 standard deviations of ``p`` (exactly 0 when p == 0)."""
    observed = successes / trials
    if p == 0.0:
        assert successes == 0, f"expected no events, got {successes} of {trials}"
        return
    sigma = np.sqrt(p * (1 - p) / trials)
    assert abs(observed - p) <= SIGMAS * sigma, f"{observed} vs {p} (+- {sigma})"


def chained_counts(device: ChainedBellDevice, rounds: int, seed: int) -> dict[str, int]:
    """Count W = 1 events on the support of Q and errors on the key pair, written from eqs. (4)-(5)."""
    m = device.settings
    inputs = uniform_inputs((m, m + 1), rounds, seed)
    outputs = device.measure(inputs)
    x, y, a, b = inputs[:, 0], inputs[:, 1], outputs[:, 0], outputs[:, 1]
    support = (y < m) & (((x - y) % m == 0) | ((x - y) % m == 1))
    w = (a ^ b) ^ ((x == 0) & (y == m - 1))
    key = (x == 0) & (y == m)
    return {
        "w_ones": int(w[support].sum()),
        "support": int(support.sum()),
        "key_errors": int((a != b)[key].sum()),
        "key": int(key.sum()),
    }


@pytest.mark.parametrize("backend", ["exact", "aer-shots"])
@pytest.mark.parametrize("settings", [2, 3, 7, 15])
@pytest.mark.parametrize("noise", [0.0, 0.01, 0.1])
def test_chained_device_matches_eq_26(backend: str, settings: int, noise: float) -> None:
    device = ChainedBellDevice(settings, noise, backend=backend, seed=1000 + settings)
    counts = chained_counts(device, ROUNDS, seed=settings)
    expected_w = (1 - noise) * np.sin(np.pi / (4 * settings)) ** 2 + noise / 2
    assert_binomial(counts["w_ones"], counts["support"], expected_w)
    assert_binomial(counts["key_errors"], counts["key"], noise / 2)


def violations_by_setting(inputs: np.ndarray, outputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per setting u (index 8 u_1 + 4 u_2 + 2 u_3 + u_4): rounds and rounds whose outcome parity
    violates eq. (5).

    Settings with one Z (U0) contribute when the parity is 0, three Z (U1) when it is 1.
    """
    setting = inputs @ np.array([8, 4, 2, 1])
    z_count = inputs.sum(axis=1)
    parity = outputs.sum(axis=1) % 2
    bad = ((z_count == 1) & (parity == 0)) | ((z_count == 3) & (parity == 1))
    return np.bincount(setting, minlength=16), np.bincount(setting, weights=bad, minlength=16)


def test_four_party_ideal_never_violates() -> None:
    inputs = uniform_inputs((2, 2, 2, 2), 10**5, seed=7)
    outputs = FourPartyDevice(0.0, seed=8).measure(inputs)
    _, violations = violations_by_setting(inputs, outputs)
    assert violations.sum() == 0


@pytest.mark.parametrize("backend", ["exact", "aer-shots"])
def test_four_party_noisy_bell_sum_is_4xi(backend: str) -> None:
    noise = 0.1
    inputs = uniform_inputs((2, 2, 2, 2), 4 * 10**5, seed=9)
    outputs = FourPartyDevice(noise, backend=backend, seed=10).measure(inputs)
    rounds, violations = violations_by_setting(inputs, outputs)
    in_inequality = np.array([bin(s).count("1") in (1, 3) for s in range(16)])
    assert in_inequality.sum() == 8
    assert violations[~in_inequality].sum() == 0
    # each of the 8 terms is xi/2 for white noise: I/16 gives each parity with probability 1/2
    p = noise / 2
    estimate = (violations[in_inequality] / rounds[in_inequality]).sum()
    sigma = np.sqrt((p * (1 - p) / rounds[in_inequality]).sum())
    assert abs(estimate - 4 * noise) <= SIGMAS * sigma


def chi_square_against_table(codes: np.ndarray, setting: np.ndarray, table: np.ndarray) -> float:
    """p-value of Pearson's statistic summed over settings (cells with zero probability must be empty)."""
    observed = np.zeros_like(table)
    np.add.at(observed, (setting, codes), 1)
    expected = table * observed.sum(axis=1, keepdims=True)
    impossible = table == 0
    assert observed[impossible].sum() == 0
    statistic = ((observed - expected) ** 2 / np.where(impossible, 1, expected))[~impossible].sum()
    degrees = int((~impossible).sum() - table.shape[0])
    return float(chi2.sf(statistic, degrees))


def msb_first_codes(outputs: np.ndarray) -> np.ndarray:
    """Outcome codes of the tables, written out here: party 1 the most significant bit."""
    return outputs.astype(np.int64) @ (1 << np.arange(outputs.shape[1] - 1, -1, -1))


@pytest.mark.parametrize(
    "make", [lambda b: ChainedBellDevice(3, 0.1, backend=b, seed=11), lambda b: FourPartyDevice(0.05, backend=b, seed=12)],
    ids=["chained", "four-party"],
)
def test_shot_mode_matches_exact_distribution(make) -> None:
    """Chi-square goodness of fit of aer-shots outcomes to the exact table, significance 1e-4."""
    exact, shots = make("exact"), make("aer-shots")
    inputs = uniform_inputs(exact.setting_counts, 2 * 10**5, seed=13)
    outputs = shots.measure(inputs)
    codes = msb_first_codes(outputs)
    assert chi_square_against_table(codes, exact.setting_index(inputs), exact.outcome_table()) > 1e-4


def test_exact_mode_sampler_matches_its_table() -> None:
    """The numpy sampler reproduces the Aer table it was given (chi-square, significance 1e-4)."""
    device = FourPartyDevice(0.3, seed=14)
    inputs = uniform_inputs(device.setting_counts, 2 * 10**5, seed=15)
    outputs = device.measure(inputs)
    codes = msb_first_codes(outputs)
    assert chi_square_against_table(codes, device.setting_index(inputs), device.outcome_table()) > 1e-4


def test_fake_ibm_backend_runs_offline_and_is_noisier_than_ideal() -> None:
    pytest.importorskip("qiskit_ibm_runtime")
    device = ChainedBellDevice(3, 0.0, backend="fake:sherbrooke", seed=16)
    assert "sherbrooke" in device.backend_name
    counts = chained_counts(device, 30_000, seed=17)
    ideal = np.sin(np.pi / 12) ** 2
    observed = counts["w_ones"] / counts["support"]
    sigma = np.sqrt(ideal * (1 - ideal) / counts["support"])
    assert observed > ideal + SIGMAS * sigma
    assert counts["key_errors"] > 0


def test_exact_mode_never_imports_qiskit_ibm_runtime() -> None:
    """Exact mode runs its circuits without the transpiler, whose plugin discovery imports every
    installed transpiler plugin package (qiskit-ibm-runtime among them); checked in a fresh
    interpreter on a whole seeded DI-QKD run."""
    import subprocess
    import sys

    script = ("import sys; from protocols.cli import main; main(['qkd', '--seed', '1', '--rounds', '20000']); "
              "print('runtime imported' if 'qiskit_ibm_runtime' in sys.modules else 'runtime not imported')")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.stdout.strip().endswith("runtime not imported"), done.stdout + done.stderr


def test_provenance_of_emulated_devices() -> None:
    """Every device says where its outcomes come from, and that an emulation is not hardware."""
    from qdevices import LocalChainedDevice

    shots = ChainedBellDevice(2, backend="aer-shots", seed=1)
    shots.measure(uniform_inputs(shots.setting_counts, 100, seed=2))
    cases = [(ChainedBellDevice(2, seed=1), "exact", "aer-exact"), (shots, "aer-shots", "aer-shots"),
             (LocalChainedDevice.optimal(2), "table", "chained-local")]
    for device, execution, backend in cases:
        provenance = device.provenance
        assert (provenance["execution"], provenance["backend"]) == (execution, backend)
        assert provenance["hardware"] is False and provenance["emulation"].startswith("emulation, not hardware")
    assert shots.provenance["layout"] == [0, 1] and len(shots.provenance["job_ids"]) >= 1
