"""One order for the four parties' bits, end to end (issue 9, item 8): SV bits -> settings rows
(bit 4i-3 is u1 of run i), the device's outputs (column k is party k+1), the Bell indicator, the
records file (columns u1..u4, x1..x4), and the device bits the extractor receives (run-major,
party 1 first). A deterministic local box with a known strategy makes every bit predictable.
"""

from __future__ import annotations

import numpy as np

import protocols.amplification.protocol1 as protocol1
from protocols.amplification.protocol1 import STATUS_CERTIFIED, CyclicShiftExtractor, run_protocol1
from protocols.amplification.records import AmplificationRecords, load_amplification_records
from qdevices import LocalFourPartyDevice
from qdevices.sources import FileSource

# party k outputs STRATEGY[k, u_k]: party 1 copies its setting, party 2 negates it, party 3
# always 1, party 4 always 0.
STRATEGY = np.array([[0, 1], [1, 0], [1, 1], [0, 0]], dtype=np.uint8)
RUNS = 64


def sv_bits() -> np.ndarray:
    """Settings bits whose runs are untested (Hamming weight 0, 2 or 4), so the local box passes
    the test; distinct patterns so that any permutation of parties shows."""
    patterns = np.array([[0, 0, 0, 0], [1, 1, 0, 0], [1, 0, 1, 0], [0, 1, 1, 0], [1, 0, 0, 1],
                         [0, 1, 0, 1], [0, 0, 1, 1], [1, 1, 1, 1]], dtype=np.uint8)
    return np.tile(patterns, (RUNS // len(patterns), 1)).reshape(-1)


def test_settings_outputs_and_extractor_input_share_one_party_order(tmp_path, monkeypatch):
    bits = sv_bits()
    seed = np.array([1, 0, 1, 1] * 600, dtype=np.uint8)  # t: enough for either extractor
    path = tmp_path / "sv.txt"
    path.write_text("".join(map(str, np.concatenate([bits, seed]))))
    source = FileSource(path, 0.0, "ascii")

    expected_u = bits.reshape(RUNS, 4)  # run i: bits 4i .. 4i+3 (0-based), u1 first
    expected_x = np.stack([expected_u[:, 0], 1 - expected_u[:, 1], np.ones(RUNS, np.uint8),
                           np.zeros(RUNS, np.uint8)], axis=1)
    device = LocalFourPartyDevice(STRATEGY, seed=1)
    np.testing.assert_array_equal(device.measure(expected_u), expected_x)

    received = {}

    class Recording:
        def extract(self, x, t, output_bits):
            received["x"], received["t"] = x.copy(), t.copy()
            return np.zeros(output_bits, dtype=np.uint8)

    monkeypatch.setattr(protocol1, "EXTRACTOR_MODELS",
                        {name: Recording() for name in protocol1.EXTRACTOR_MODELS})
    result = run_protocol1(device, source, RUNS, 0.0, 1.0, CyclicShiftExtractor(), output_bits=1)
    assert result.status == STATUS_CERTIFIED and result.bell_test.violations == 0
    np.testing.assert_array_equal(received["x"], expected_x.reshape(-1))  # x_1 (parties 1..4), x_2, ...
    np.testing.assert_array_equal(received["t"], seed[:received["t"].size])  # t follows u

    records = AmplificationRecords(expected_u, expected_x)
    for name in ("runs.csv", "runs.npz"):
        records.save(tmp_path / name)
        loaded = load_amplification_records(tmp_path / name)
        np.testing.assert_array_equal(loaded.settings, expected_u)
        np.testing.assert_array_equal(loaded.outputs, expected_x)
    header, first = (tmp_path / "runs.csv").read_text().splitlines()[:2]
    assert header == "u1,u2,u3,u4,x1,x2,x3,x4"
    assert first == ",".join(map(str, np.concatenate([expected_u[0], expected_x[0]])))


def test_bell_indicator_follows_the_party_order():
    """A tested setting (weight 1) violates with even parity: flip which party holds the 1 and
    the indicator must follow the outputs of that same run only."""
    from protocols.bell.four_party import bell_indicator

    settings = np.array([[1, 0, 0, 0], [0, 0, 0, 1], [1, 1, 1, 0], [0, 0, 0, 0]], dtype=np.uint8)
    outputs = np.array([[1, 1, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]], dtype=np.uint8)
    # weight 1, even parity: violation; weight 1, odd: none; weight 3, odd: violation; weight 0: untested
    np.testing.assert_array_equal(bell_indicator(outputs, settings), [1, 0, 1, 0])
