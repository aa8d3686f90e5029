"""DI-QKD end to end (paper 000 Sec. III A): honest devices give equal keys of the eq. (17) length,
local strategies and noise above threshold abort, error-correction failure aborts.

Seeds are fixed (seeded runs are reproducible and marked not secure); statistical checks state
their tolerance.
"""

from __future__ import annotations

import itertools
import json
import os
import stat

import numpy as np
import pytest
from scipy.special import rel_entr

from protocols.cli import main
from protocols.qkd.protocol import QKDInputError, QKDParameters, collect_records, distill_key, run_diqkd
from protocols.records import load_records
from qdevices import ChainedBellDevice, ChainedPRBox, LocalChainedDevice, Randomness
from qdevices.devices import TabulatedBox

GAMMA = 0.887  # near the optimum of eq. (21) for M = 7


def eq17_by_grid(w: float, m: int, n: int, n_e: int, n_r: int, n_c: int, eps: float) -> float:
    """Eq. (17) with the minimum over theta taken on a dense grid (an upper bound on the true minimum)."""
    theta = np.concatenate([np.linspace(1e-9, 1, 200_001), np.linspace(w, min(1, 10 * w + 1e-3), 200_001)])
    d = (rel_entr(w, theta) + rel_entr(1 - w, 1 - theta)) / np.log(2)
    entropy = np.min(2 * n_e * d - 2 * n_r * np.log2(0.5 + m * theta))
    return entropy - n_r - n_c - 2 * np.log2(8 * n_e * n / eps)


def test_honest_device_gives_equal_keys_of_the_eq17_length() -> None:
    m, n = 7, 10**6
    params = QKDParameters(rounds=n, settings=m, gamma=GAMMA)
    randomness = Randomness(seed=1)
    records = collect_records(ChainedBellDevice(m, 0.0, seed=2), params, randomness)
    result = distill_key(records, params, randomness)
    assert result.status == "key", result.reason
    assert result.key_a == result.key_b and len(result.key_a) == (result.key_length + 7) // 8

    # N_e, N_r and W-bar recounted from the records (eqs. (12)-(14))
    test = (records.alice_test == 1) & (records.bob_test == 1)
    diff = (records.x.astype(int) - records.y.astype(int)) % m
    n_e_mask = test & (records.y < m) & ((diff == 0) | (diff == 1))
    w = records.a ^ records.b ^ ((records.x == 0) & (records.y == m - 1))
    assert result.estimation_rounds == n_e_mask.sum()
    assert result.raw_key_rounds == ((records.alice_test == 0) & (records.bob_test == 0)).sum()
    assert result.bell_value == pytest.approx(w[n_e_mask].mean(), abs=1e-15)

    grid = eq17_by_grid(result.bell_value, m, n, result.estimation_rounds, result.raw_key_rounds,
                        result.leaked_bits, params.eps)
    assert grid - 1.0 <= result.key_length <= grid  # never above the formula, at most 1 bit below

    bits = np.unpackbits(np.frombuffer(result.key_a, np.uint8))[: result.key_length]
    sigma = np.sqrt(0.25 / bits.size)
    assert abs(bits.mean() - 0.5) < 5 * sigma  # bias test, 5 sigma

    assert not result.secure_randomness and result.to_dict()["randomness"] == "seeded (not secure)"
    assert result.total_eps == pytest.approx(params.eps + 2 * params.eps_erco)


def test_default_randomness_is_the_os_csprng() -> None:
    result = run_diqkd(ChainedBellDevice(7, 0.0), QKDParameters(rounds=3 * 10**5, gamma=GAMMA))
    assert result.secure_randomness and result.randomness == "os"
    assert result.status == "key" and result.key_a == result.key_b


def _local_strategies(m: int):
    for bits in itertools.product((0, 1), repeat=2 * m + 1):
        yield np.array(bits[:m]), np.array(bits[m:])


@pytest.mark.parametrize("m", [2, 3])
def test_every_local_strategy_aborts(m: int) -> None:
    params = QKDParameters(rounds=10**5, settings=m, gamma=0.9)
    for k, (alice, bob) in enumerate(_local_strategies(m)):
        result = run_diqkd(LocalChainedDevice(alice, bob, seed=k), params, Randomness(seed=k))
        assert result.status == "aborted" and result.key_length == 0 and result.key_a == b""


def test_sampled_local_strategies_abort_for_m7() -> None:
    rng = np.random.default_rng(3)
    params = QKDParameters(rounds=10**5, settings=7, gamma=GAMMA)
    strategies = [LocalChainedDevice.optimal(7)] + [
        LocalChainedDevice(rng.integers(0, 2, 7), rng.integers(0, 2, 8), seed=k) for k in range(15)
    ]
    for k, device in enumerate(strategies):
        result = run_diqkd(device, params, Randomness(seed=100 + k))
        assert result.status == "aborted"


def test_noise_above_threshold_aborts() -> None:
    result = run_diqkd(ChainedBellDevice(7, 0.05, seed=4), QKDParameters(rounds=10**6, gamma=GAMMA), Randomness(seed=5))
    assert result.status == "aborted" and "threshold" in result.reason


def test_pr_box_is_accepted() -> None:
    """Security rests on no-signaling only: a super-quantum box with <W> = 0 yields a key."""
    result = run_diqkd(ChainedPRBox(7, seed=6), QKDParameters(rounds=10**6, gamma=GAMMA), Randomness(seed=7))
    assert result.bell_value == 0.0
    assert result.status == "key" and result.key_a == result.key_b and result.qber == 0.0


class NoisyKeyPairDevice(TabulatedBox):
    """Ideal Bell statistics, but the key pair (0, M) disagrees with probability 0.08."""

    def __init__(self, m: int, seed: int) -> None:
        self.setting_counts = (m, m + 1)
        table = ChainedBellDevice(m, 0.0).outcome_table().copy()
        key = self.setting_index(np.array([[0, m]]))[0]  # the key pair (x, y) = (0, M)
        table[key] = [0.46, 0.04, 0.04, 0.46]  # code 2a + b
        super().__init__(table, seed)


def test_error_correction_failure_aborts_and_never_gives_unequal_keys() -> None:
    params = QKDParameters(rounds=10**6, gamma=GAMMA)
    for seed in range(3):
        result = run_diqkd(NoisyKeyPairDevice(7, seed), params, Randomness(seed=10 + seed))
        assert result.status == "aborted", "an 8% error rate must defeat a code designed from W-bar"
        assert "error correction" in result.reason and result.key_a == b"" and result.key_b == b""


def test_parameters_rejected() -> None:
    for bad in [dict(rounds=0), dict(rounds=10, gamma=1.5), dict(rounds=10, eps=0.0), dict(rounds=10, settings=1)]:
        with pytest.raises(QKDInputError):
            QKDParameters(**bad)


@pytest.mark.parametrize("suffix", [".npz", ".csv"])
def test_records_round_trip_gives_the_same_key(tmp_path, suffix: str) -> None:
    params = QKDParameters(rounds=3 * 10**5, gamma=GAMMA)
    records = collect_records(ChainedBellDevice(7, 0.0, seed=8), params, Randomness(seed=9))
    path = tmp_path / f"run{suffix}"
    records.save(path)
    loaded = load_records(path)
    direct = distill_key(records, params, Randomness(seed=11))
    again = distill_key(loaded, params, Randomness(seed=11))
    assert direct.status == again.status == "key" and direct.key_a == again.key_a


def test_records_errors_name_the_row(tmp_path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("# settings=3\n# i,j,x,y,a,b\n1,1,0,1,0,1\n0,0,0,3,1,7\n")
    with pytest.raises(ValueError, match=r"row 2: column 'b' must be in \[0, 1\], got 7"):
        load_records(path)
    path.write_text("# settings=3\n# i,j,x,y,a,b\n1,1,0,1,0\n")
    with pytest.raises(ValueError, match=r"line 3: expected 6 values, got 5"):
        load_records(path)
    path.write_text("# settings=3\n# i,j,x,a,b,y\n")
    with pytest.raises(ValueError, match="header"):
        load_records(path)


def test_cli_runs_to_a_key_and_writes_files(tmp_path, capsys) -> None:
    key, report = tmp_path / "key.bin", tmp_path / "report.json"
    status = main(["qkd", "--rounds", "300000", "--seed", "3", "--json", "--key-out", str(key), "--report", str(report)])
    printed = json.loads(capsys.readouterr().out)
    assert status == 0 and printed["status"] == "key"
    for name in ("key_length", "bell_value", "qber", "estimation_rounds", "raw_key_rounds", "leaked_bits", "total_eps"):
        assert name in printed
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert key.stat().st_size == (printed["key_length"] + 7) // 8
    assert json.loads(report.read_text())["key_length"] == printed["key_length"]
    assert "key_a" not in printed and key.read_bytes().hex() not in json.dumps(printed)
    assert printed["local_only"] == ["qber", "timings"]  # Bob's local view, not in the transcript T


def test_cli_fake_backend_report_is_labelled_a_demonstration(capsys) -> None:
    pytest.importorskip("qiskit_ibm_runtime")
    main(["qkd", "--backend", "fake:sherbrooke", "--settings", "3", "--rounds", "3000", "--seed", "2", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert "not a device-independent run" in report["caveat"]
    assert report["device_run"]["error_mitigation"].startswith("none")
    assert len(report["device_run"]["layout"]) == 2


def test_cli_local_device_exits_3(capsys) -> None:
    assert main(["qkd", "--rounds", "100000", "--device", "local", "--seed", "1"]) == 3
    assert "ABORTED" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [["--rounds", "0"], ["--gamma", "1.5"], ["--eps", "0"], ["--backend", "fake:nowhere"], ["--settings", "1"]],
)
def test_cli_bad_input_exit_2(argv, capsys) -> None:
    with pytest.raises(SystemExit) as raised:
        raise SystemExit(main(["qkd", *argv]))
    assert raised.value.code == 2
    assert capsys.readouterr().err.strip().count("\n") == 0


def test_no_key_reason_never_asks_for_fewer_rounds_than_were_used() -> None:
    """Regression: the abort said "needs N >= X" with X below the N of the run. A reason that
    names a number of rounds must name one above the run's N; otherwise it says what the
    observed Bell value allows."""
    import re

    from protocols.qkd.protocol import _no_key_reason

    params = QKDParameters(rounds=10**9, gamma=0.5)
    for rounds in (10**3, 10**9):
        reason = _no_key_reason(0.0128, 7, rounds, params, 0.001)
        needed = re.search(r"needs about N >= (\d+)", reason)
        if needed:
            assert int(needed.group(1)) > rounds, reason
        else:
            assert "allows a key" in reason and str(rounds) in reason, reason
    assert "needs about N >=" in _no_key_reason(0.0128, 7, 10**3, params, 0.001)
    assert "needs about N >=" not in _no_key_reason(0.0128, 7, 10**9, params, 0.001)


def test_json_names_the_adversary_once() -> None:
    data = run_diqkd(LocalChainedDevice.optimal(7, seed=1), QKDParameters(rounds=20_000, gamma=0.5),
                     Randomness(seed=1)).to_dict()
    assert data["adversary_model"] == "no-signaling" and "adversary" not in data
