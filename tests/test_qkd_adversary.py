"""DI-QKD end to end in both adversary models (``QKDParameters(adversary=...)``, ``--adversary``).

The same recorded rounds are distilled under each model with the same protocol randomness
(seeded, so the two runs see the same error-correction seeds); the quantum-adversary key
(docs/quantum_chained_key.md) must never be shorter than the no-signalling key of eq. (17),
and a local deterministic device must abort in both models.
"""

from __future__ import annotations

import json

import pytest

from protocols.cli import main
from protocols.qkd.protocol import QKDInputError, QKDParameters, collect_records, distill_key
from qdevices import ChainedBellDevice, LocalChainedDevice, Randomness

ROUNDS = 400_000


@pytest.mark.parametrize("noise", [0.0, 0.01, 0.03])
def test_quantum_key_never_shorter_on_the_same_records(noise: float) -> None:
    params = QKDParameters(rounds=ROUNDS, settings=7, gamma=0.85)
    records = collect_records(ChainedBellDevice(7, noise, seed=5), params, Randomness(seed=5))
    results = {adversary: distill_key(records, QKDParameters(rounds=ROUNDS, settings=7, gamma=0.85,
                                                             adversary=adversary), Randomness(seed=6))
               for adversary in ("no-signaling", "quantum")}
    ns, q = results["no-signaling"], results["quantum"]
    assert ns.bell_value == q.bell_value and ns.estimation_rounds == q.estimation_rounds
    assert q.key_length >= ns.key_length
    assert q.adversary_model == "quantum" and "Appendix A" in q.theorem
    assert ns.adversary_model == "no-signaling" and "eq. (17)" in ns.theorem
    if q.success:
        assert q.key_a == q.key_b


def test_noise_above_the_no_signalling_threshold_still_gives_a_quantum_key() -> None:
    # xi = 0.03 > 0.0276, the M = 7 threshold of eq. (21): eq. (17) must abort at any N, while the
    # quantum-adversary rate is still positive (threshold 0.0768, docs/quantum_chained_key.md).
    params = QKDParameters(rounds=ROUNDS, settings=7, gamma=0.85)
    records = collect_records(ChainedBellDevice(7, 0.03, seed=8), params, Randomness(seed=8))
    ns = distill_key(records, params, Randomness(seed=9))
    q = distill_key(records, QKDParameters(rounds=ROUNDS, settings=7, gamma=0.85, adversary="quantum"),
                    Randomness(seed=9))
    assert ns.status == "aborted" and q.status == "key" and q.key_a == q.key_b


@pytest.mark.parametrize("adversary", ["no-signaling", "quantum"])
def test_local_deterministic_device_aborts(adversary: str) -> None:
    params = QKDParameters(rounds=ROUNDS, settings=7, gamma=0.85, adversary=adversary)
    device = LocalChainedDevice.optimal(7, seed=3)
    result = distill_key(collect_records(device, params, Randomness(seed=3)), params, Randomness(seed=4))
    assert result.status == "aborted" and result.key_length == 0


def test_bad_adversary_is_one_line_input_error(capsys) -> None:
    with pytest.raises(QKDInputError, match="adversary"):
        QKDParameters(rounds=10, adversary="classical")
    with pytest.raises(SystemExit) as exit_info:
        main(["qkd", "--adversary", "classical"])
    assert exit_info.value.code == 2


def test_cli_reports_the_adversary_model(capsys) -> None:
    assert main(["qkd", "--rounds", "300000", "--seed", "2", "--adversary", "quantum", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["adversary_model"] == "quantum" and report["key_length"] > 0
    assert "docs/quantum_chained_key.md" in report["theorem"]
