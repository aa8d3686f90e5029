"""Tests of the CHSH DI-QKD protocol (protocols.qkd.chsh).

Seeds are fixed (protocol randomness seed 11, device seeds stated); every local deterministic
strategy must abort at the CHSH test (its winning frequency is at most 3/4, the threshold is
above 0.80); the honest device must give equal keys of the planned length. Error correction
with errors is exercised in tests/test_reconciliation.py (at N >= 1e6 it takes minutes here).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from protocols.errors import BellboxInputError
from protocols.qkd.chsh import (CHSHParameters, CHSHResult, choose_chsh_settings, distill_chsh_key,
                                run_chsh)
from protocols.records import QKDRecords
from protocols.results import ProtocolResult
from qdevices import ChainedBellDevice, Randomness

#: A plan with a key at small N: eps = 0.1 (a weak but valid certificate) keys from N ~ 1.5e6.
ROUNDS = 2 * 10**6
EPS = 0.1


def test_choices_follow_the_protocol():
    choices = choose_chsh_settings(200_000, 0.2, Randomness(seed=3))
    test = choices.test == 1
    assert abs(test.mean() - 0.2) < 5 * np.sqrt(0.2 * 0.8 / 200_000)
    assert np.all(choices.x[~test] == 0) and np.all(choices.y[~test] == 2)
    assert set(np.unique(choices.x[test])) == {0, 1} and set(np.unique(choices.y[test])) == {0, 1}


def test_honest_device_gives_equal_keys_of_the_planned_length():
    params = CHSHParameters(rounds=ROUNDS, noise=0.0, eps=EPS)
    assert params.plan.bits > 0
    result = run_chsh(ChainedBellDevice(settings=2, noise=0.0, seed=7), params, Randomness(seed=11))
    assert result.status == "key", result.reason
    assert result.key_a == result.key_b and len(result.key_a) == -(-result.key_length // 8)
    assert result.key_length == params.plan.bits
    assert result.qber == 0.0
    assert abs(result.winning_frequency - (2 + 2**0.5) / 4) < 5 * (0.125 / result.test_rounds) ** 0.5
    assert result.leaked_bits == params.planned_leak + 1  # syndrome + tag + accept flag
    data = result.to_dict()
    assert "key_a" not in data and data["adversary_model"] == "quantum" and data["protocol"] == "chsh"
    assert "Dupuis-Fawzi-Renner" in data["theorem"] and "memory" in data["device_assumption"]
    assert data["randomness"] == "seeded (not secure)" and "qber" in data["local_only"]
    assert data["key_length_terms"]["bits"] == result.key_length


def _strategy_records(choices, alice: tuple[int, int], bob: tuple[int, int, int]) -> QKDRecords:
    a = np.asarray(alice, dtype=np.uint8)[choices.x]
    b = np.asarray(bob, dtype=np.uint8)[choices.y]
    return QKDRecords(2, choices.test, choices.test, choices.x, choices.y, a, b)


def test_noisier_device_than_planned_aborts():
    params = CHSHParameters(rounds=ROUNDS, noise=0.0, eps=EPS)
    result = run_chsh(ChainedBellDevice(settings=2, noise=0.1, seed=7), params, Randomness(seed=11))
    assert result.status == "aborted" and "CHSH test failed" in result.reason and result.key_a == b""


def test_every_local_deterministic_strategy_aborts():
    params = CHSHParameters(rounds=ROUNDS, noise=0.0, eps=EPS)
    assert params.plan.bits > 0 and params.plan.threshold > 0.8
    choices = choose_chsh_settings(ROUNDS, params.gamma, Randomness(seed=11))
    for alice in itertools.product((0, 1), repeat=2):
        for bob in itertools.product((0, 1), repeat=3):
            result = distill_chsh_key(_strategy_records(choices, alice, bob), params, Randomness(seed=11))
            assert result.status == "aborted" and result.key_length == 0
            assert "CHSH test failed" in result.reason
            assert result.winning_frequency <= 0.75 + 5 * np.sqrt(0.1875 / result.test_rounds)


def test_pr_box_is_flagged_as_beyond_quantum():
    params = CHSHParameters(rounds=ROUNDS, noise=0.0, eps=EPS)
    choices = choose_chsh_settings(ROUNDS, params.gamma, Randomness(seed=11))
    rng = np.random.default_rng(5)
    a = rng.integers(0, 2, ROUNDS).astype(np.uint8)
    flip = ((choices.x == 0) & (choices.y == 1)).astype(np.uint8)  # win iff a XOR b = [x=0, y=1]
    records = QKDRecords(2, choices.test, choices.test, choices.x, choices.y, a, a ^ flip)
    result = distill_chsh_key(records, params, Randomness(seed=11))
    assert result.winning_frequency == 1.0
    assert "not quantum" in result.note and "clamped" in result.note
    assert result.key_length <= params.plan.bits  # never more than the plan (quantum range only)
    assert result.key_a == result.key_b


@pytest.mark.parametrize("kwargs", [
    {"adversary": "no-signaling"}, {"gamma": 1.5}, {"gamma": "often"}, {"noise": -0.1}, {"eps": 0.0},
    {"error_rate": 0.5},
])
def test_bad_parameters_are_input_errors(kwargs):
    with pytest.raises(BellboxInputError):
        CHSHParameters(rounds=1000, **kwargs)
    with pytest.raises(BellboxInputError):
        CHSHParameters(rounds=0)


def test_result_is_a_protocol_result():
    assert issubclass(CHSHResult, ProtocolResult) and CHSHResult.SUCCESS_STATUS == "key"


def test_cli_qkd_protocol_chsh_end_to_end(capsys) -> None:
    """`bellbox qkd --protocol chsh`: a key on the ideal device (seed 3), the model and theorem in
    the report, the best local strategy aborts, and no-signaling is refused before any device runs."""
    import json

    from protocols.cli import main

    args = ["qkd", "--protocol", "chsh", "--rounds", "2000000", "--eps", "0.1", "--seed", "3", "--json"]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["protocol"] == "chsh" and report["adversary_model"] == "quantum"
    assert "Dupuis-Fawzi-Renner" in report["theorem"] and report["key_length"] > 0
    assert report["device_run"]["execution"] == "exact" and len(report["raw_records_sha256"]) == 64
    assert main(args + ["--device", "local"]) == 3
    assert json.loads(capsys.readouterr().out)["status"] == "aborted"
    assert main(["qkd", "--protocol", "chsh", "--adversary", "no-signaling"]) == 2
    assert "entropy accumulation" in capsys.readouterr().err
