"""Streamed DI-QKD (issue 12 item 1): steps 1-2 in jobs give exactly the statistics and raw key of
the in-memory records, memory does not grow with N, and records files are read in chunks.

Every expected value is recounted here from the rounds themselves (eqs. (12)-(14) written out
with integer arithmetic), not taken from the tallies under test.
"""

from __future__ import annotations

import hashlib
import tracemalloc

import numpy as np
import pytest

from protocols.qkd.protocol import (PackedBits, QKDParameters, RoundTallies, collect_records, collect_tallies,
                                    distill_key, run_diqkd, tally_records_file)
from protocols.records import RecordsError, load_records, records_sha256
from qdevices import ChainedBellDevice, Randomness
from qdevices.jobs import JobPolicy, RunControl

M = 7
PARAMS = QKDParameters(rounds=200_000, settings=M, gamma=0.6)  # N_r about 32,000
JOBS = RunControl(policy=JobPolicy(job_rounds=30_000))  # 7 jobs, the last one short


def recount(records):
    """N_e, sum of W over N_e and the raw keys, by eqs. (4), (12)-(14) on int64 columns."""
    i, j, x, y, a, b = (np.asarray(getattr(records, n), dtype=np.int64)
                        for n in ("alice_test", "bob_test", "x", "y", "a", "b"))
    support = (i == 1) & (j == 1) & (y < M) & (((x - y) % M == 0) | ((x - y) % M == 1))
    w = a ^ b ^ ((x == 0) & (y == M - 1))
    raw = (i == 0) & (j == 0)
    return int(support.sum()), int(w[support].sum()), a[raw], b[raw]


def test_streamed_tallies_equal_the_in_memory_records() -> None:
    records = collect_records(ChainedBellDevice(M, 0.0, seed=2), PARAMS, Randomness(seed=1), control=JOBS)
    streamed = collect_tallies(ChainedBellDevice(M, 0.0, seed=2), PARAMS, Randomness(seed=1), control=JOBS)
    tallies = streamed.tallies
    n_e, w_sum, alice_raw, bob_raw = recount(records)
    assert (tallies.rounds, tallies.estimation_rounds, tallies.bell_sum) == (PARAMS.rounds, n_e, w_sum)
    assert tallies.bell_value == w_sum / n_e
    np.testing.assert_array_equal(tallies.alice_raw.bits(), alice_raw)
    np.testing.assert_array_equal(tallies.bob_raw.bits(), bob_raw)
    assert tallies.fingerprint.hexdigest() == records_sha256(records)
    assert streamed.device_run.jobs == 7 and streamed.device_run.inputs is None
    assert set(streamed.timings) == {"settings_randomness", "devices", "estimation"}


def test_streamed_run_gives_the_key_of_the_in_memory_distillation() -> None:
    params = QKDParameters(rounds=300_000, settings=M, gamma=0.887)
    randomness = Randomness(seed=4)
    records = collect_records(ChainedBellDevice(M, 0.0, seed=3), params, randomness, control=JOBS)
    in_memory = distill_key(records, params, randomness)
    streamed = run_diqkd(ChainedBellDevice(M, 0.0, seed=3), params, Randomness(seed=4), control=JOBS)
    assert in_memory.status == streamed.status == "key"
    assert streamed.key_a == in_memory.key_a == streamed.key_b
    for name in ("estimation_rounds", "raw_key_rounds", "bell_value", "leaked_bits", "key_length"):
        assert getattr(streamed, name) == getattr(in_memory, name), name


def _peak_bytes(rounds: int) -> int:
    device = ChainedBellDevice(M, 0.0, seed=5)
    device.outcome_table()  # the Aer table is built once, outside the measurement
    params = QKDParameters(rounds=rounds, settings=M, gamma=0.97)  # N_r about 0.1 % of N
    tracemalloc.start()
    try:
        collect_tallies(device, params, Randomness(seed=6), control=RunControl(policy=JobPolicy(job_rounds=50_000)))
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_of_a_streamed_run_does_not_grow_with_the_rounds() -> None:
    """Eight times the rounds in jobs of the same size: the peak may grow by the raw key
    (2 x 0.1 % x 1.4e6 bits, packed) plus slack, not by the 8x an in-memory run needs."""
    small, large = _peak_bytes(200_000), _peak_bytes(1_600_000)
    assert large < 1.25 * small, (small, large)


@pytest.mark.parametrize("suffix", [".npz", ".csv"])
def test_records_files_are_read_in_chunks_with_the_same_tallies(tmp_path, suffix) -> None:
    records = collect_records(ChainedBellDevice(3, 0.1, seed=7), QKDParameters(rounds=20_000, settings=3, gamma=0.5),
                              Randomness(seed=8))
    path = tmp_path / f"r{suffix}"
    records.save(path)
    whole = RoundTallies.of(records)
    chunked = tally_records_file(path, chunk_rounds=777)
    for name in ("rounds", "alice_tests", "estimation_rounds", "bell_sum"):
        assert getattr(chunked, name) == getattr(whole, name), name
    np.testing.assert_array_equal(chunked.alice_raw.bits(), whole.alice_raw.bits())
    assert chunked.fingerprint.hexdigest() == records_sha256(load_records(path)) == records_sha256(records)


def test_chunked_errors_name_the_row_of_the_whole_file(tmp_path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("# settings=3\n# i,j,x,y,a,b\n1,1,0,1,0,1\n0,0,0,3,1,0\n1,0,2,3,1,5\n")
    with pytest.raises(RecordsError, match=r"row 3: column 'b'"):
        tally_records_file(path, chunk_rounds=2)


def test_corrupt_npz_data_is_detected_while_streaming(tmp_path) -> None:
    path = tmp_path / "r.npz"
    z = np.zeros(5000, dtype=np.int64)
    np.savez(path, settings=7, i=z, j=z, x=z, y=z + 7, a=z, b=z)  # stored, not compressed
    data = bytearray(path.read_bytes())
    data[data.rindex(b"\x93NUMPY") + 2000] ^= 1  # one bit inside the last column's data
    path.write_bytes(bytes(data))
    with pytest.raises(RecordsError, match="r.npz"):
        tally_records_file(path, chunk_rounds=1000)


def test_records_fingerprint_layout_by_hand() -> None:
    """SHA-256 of M (8 bytes LE), then per round the bytes i + 2j + 4a + 8b, x, y."""
    from protocols.records import QKDRecords

    i, j, x = np.array([1, 0, 1]), np.array([1, 0, 0]), np.array([2, 0, 1])
    y, a, b = np.array([0, 3, 3]), np.array([1, 1, 0]), np.array([0, 1, 1])
    rows = b"".join(bytes([int(i[n] + 2 * j[n] + 4 * a[n] + 8 * b[n]), int(x[n]), int(y[n])]) for n in range(3))
    expected = hashlib.sha256((3).to_bytes(8, "little") + rows).hexdigest()
    assert records_sha256(QKDRecords(3, i, j, x, y, a, b)) == expected


def test_packed_bits_round_trip() -> None:
    rng = np.random.default_rng(9)
    pieces = [rng.integers(0, 2, size, dtype=np.uint8) for size in (0, 1, 7, 8, 9, 100, 3)]
    packed = PackedBits()
    for piece in pieces:
        packed.append(piece)
    np.testing.assert_array_equal(packed.bits(), np.concatenate(pieces))
    assert packed.size == sum(p.size for p in pieces)


def test_cli_refuses_a_raw_key_that_cannot_fit_before_any_work(capsys, monkeypatch) -> None:
    """No limit on N from the streamed steps 1-2; the raw key N (1 - gamma)^2 is limited:
    9e10 rounds at gamma = 0.5 expect 2.25e10 raw-key rounds (300 bytes each > any memory here)."""
    from protocols.cli import main

    monkeypatch.setattr(ChainedBellDevice, "__init__", lambda *a, **k: pytest.fail("device built"))
    assert main(["qkd", "--rounds", "90000000000", "--gamma", "0.5"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "2.25e+10 raw-key rounds" in err
