"""Recorded four-party runs (``bellbox amplify --records``): the file format, its validation, and
that post-processing recorded runs gives exactly what a device run gives.

Expected Bell counts are derived by hand from paper 004 eqs. (4)-(7): ``B(x, u) = 1`` iff
``u`` has Hamming weight 1 (``U0``) and ``x`` even parity, or weight 3 (``U1``) and odd parity.
The number of runs is the paper-chain planner's n for 1 bit at error 0.5 (eps = 0, delta = 0,
cyclic-shift extractor; 156,482 when written), so the ideal device must be certified there; the
comparison of the two paths is array equality, no tolerance.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from protocols.amplification.protocol1 import (STATUS_ABORTED, STATUS_CERTIFIED, STATUS_NOT_CERTIFIED,
                                     CyclicShiftExtractor, run_protocol1)
from protocols.amplification.certificate import plan_protocol1
from protocols.amplification.records import (AmplificationRecords, AmplificationRecordsError,
                                             load_amplification_records, post_process_records)
from protocols.cli import main
from qdevices import FourPartyDevice
from qdevices.randomness import Randomness
from qdevices.sources import named_source

ROOT = Path(__file__).resolve().parent.parent
HEADER = "u1,u2,u3,u4,x1,x2,x3,x4"
EXTRACTOR = CyclicShiftExtractor()


@functools.lru_cache(maxsize=None)
def certified_runs() -> int:
    """The planner's smallest n certifying 1 bit at error 0.5 (paper chain, eps = 0, delta = 0)."""
    return plan_protocol1(1, 0.5, 0.0, 0.0, EXTRACTOR).required_runs

# (u, x, B by hand): weight-1 u with even x violates, weight-3 u with odd x violates.
HAND_RUNS = [
    ("0001", "0000", 1),   # U0, parity 0
    ("0111", "1000", 1),   # U1, parity 1
    ("0001", "1000", 0),   # U0, parity 1
    ("0000", "0000", 0),   # weight 0: untested
    ("1110", "1100", 0),   # U1, parity 0
    ("1111", "1000", 0),   # weight 4: untested
]


def hand_violations(u: np.ndarray, x: np.ndarray) -> int:
    weight, parity = u.sum(axis=1), x.sum(axis=1) % 2
    return int((((weight == 1) & (parity == 0)) | ((weight == 3) & (parity == 1))).sum())


def write_csv(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def hand_csv(path: Path, t: str | None = None) -> Path:
    rows = [",".join(u + x) for u, x, _ in HAND_RUNS]
    return write_csv(path, ([f"# t={t}"] if t else []) + [HEADER] + rows)


def test_csv_written_by_hand_gives_the_hand_counted_bell_average(tmp_path) -> None:
    records = load_amplification_records(hand_csv(tmp_path / "runs.csv"))
    assert records.runs == 6 and records.t is None
    violations = sum(b for _, _, b in HAND_RUNS)  # 2
    accepted = post_process_records(records, 0.0, 0.34, 0.5, EXTRACTOR)  # 1/3 <= 0.34
    assert accepted.bell_test.violations == violations and accepted.status == STATUS_NOT_CERTIFIED
    rejected = post_process_records(records, 0.0, 0.3, 0.5, EXTRACTOR)  # 1/3 > 0.3
    assert rejected.status == STATUS_ABORTED and rejected.output is None


@pytest.mark.parametrize("lines, message", [
    (["u1,u2,u3,u4,x1,x2,x3", "0,0,0,1,0,0,0"], "line 1 must be the header"),
    ([HEADER, "0,0,0,1,0,0,0,0", "0,0,1,0,0,0,0"], "line 3: expected 8 values, got 7"),
    ([HEADER, "0,0,0,1,0,0,0,0", "0,0,2,0,0,0,0,0"], "line 3: u3 must be 0 or 1, got 2"),
    ([HEADER, "0,0,0,1,0,0,0,0", "", "0,0,0,1,0,0,0,-1"], "line 4: x4 must be 0 or 1, got -1"),
    ([HEADER, "0,0,0,1,0,0,0,a"], "line 2: values must be integers"),
    ([HEADER], "no runs"),
    (["# t=01x1", HEADER, "0,0,0,1,0,0,0,0"], "line 1: t must be characters 0/1"),
    ([], "line 1 must be the header"),
])
def test_malformed_csv_names_the_line_and_the_problem(tmp_path, lines, message) -> None:
    path = write_csv(tmp_path / "bad.csv", lines)
    with pytest.raises(AmplificationRecordsError, match=message):
        load_amplification_records(path)


def _npz(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


GOOD_U = np.array([[0, 0, 0, 1]] * 5, dtype=np.uint8)


@pytest.mark.parametrize("arrays, message", [
    ({"u": GOOD_U}, r"missing \['x'\]"),
    ({"u": GOOD_U, "x": GOOD_U, "T": np.zeros(3)}, r"unknown \['T'\]"),
    ({"u": GOOD_U, "x": GOOD_U[:4]}, "x has 4 rows and u has 5"),
    ({"u": GOOD_U, "x": np.where(np.arange(20).reshape(5, 4) == 13, 3, 0)}, "row 4: x2 must be 0 or 1, got 3"),
    ({"u": GOOD_U[:, :3], "x": GOOD_U[:, :3]}, r"u must have shape \(n, 4\)"),
    ({"u": GOOD_U * 0.5, "x": GOOD_U}, "u must hold integers"),
    ({"u": GOOD_U, "x": GOOD_U, "t": np.array([0, 1, 2, 1])}, "t: bit 3 must be 0 or 1, got 2"),
])
def test_malformed_npz_names_the_row_and_the_problem(tmp_path, arrays, message) -> None:
    with pytest.raises(AmplificationRecordsError, match=message):
        load_amplification_records(_npz(tmp_path / "bad.npz", **arrays))


def test_truncated_npz_and_wrong_suffix_are_rejected(tmp_path) -> None:
    whole = _npz(tmp_path / "whole.npz", u=np.zeros((1000, 4), np.uint8), x=np.zeros((1000, 4), np.uint8))
    cut = tmp_path / "cut.npz"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(AmplificationRecordsError, match="truncated"):
        load_amplification_records(cut)
    with pytest.raises(AmplificationRecordsError, match=r"\.npz or \.csv"):
        load_amplification_records(hand_csv(tmp_path / "runs.txt"))


def test_save_and_load_round_trip_in_both_formats(tmp_path) -> None:
    rng = np.random.default_rng(11)
    records = AmplificationRecords(rng.integers(0, 2, (50, 4), dtype=np.uint8),
                                   rng.integers(0, 2, (50, 4), dtype=np.uint8),
                                   rng.integers(0, 2, 300, dtype=np.uint8))
    for suffix in (".npz", ".csv"):
        loaded = load_amplification_records(_saved(records, tmp_path / f"r{suffix}"))
        for name in ("settings", "outputs", "t"):
            np.testing.assert_array_equal(getattr(loaded, name), getattr(records, name))


def _saved(records: AmplificationRecords, path: Path) -> Path:
    records.save(path)
    return path


@pytest.fixture(scope="module")
def device_run():
    """The ideal device, streamed, certified for 1 bit at error 0.5; and the same runs recorded
    by drawing settings then t from an identically seeded source and measuring an identically
    seeded device (what a lab would write to the file)."""
    result = run_protocol1(FourPartyDevice(0.0, seed=31), named_source("uniform", 0.0, Randomness(seed=32)),
                           certified_runs(), delta=0.0, error=0.5, extractor=EXTRACTOR, output_bits=1,
                           certificate="paper")
    source = named_source("uniform", 0.0, Randomness(seed=32))
    settings = source.settings(certified_runs())
    outputs = FourPartyDevice(0.0, seed=31).measure(settings)
    t = source.bits(EXTRACTOR.t_length(4 * certified_runs()))
    return result, AmplificationRecords(settings, outputs, t)


def test_recorded_runs_give_the_device_runs_bits(device_run) -> None:
    result, records = device_run
    assert result.status == STATUS_CERTIFIED
    replayed = post_process_records(records, 0.0, 0.0, 0.5, EXTRACTOR, output_bits=1,
                                    certificate="paper")
    assert replayed.status == STATUS_CERTIFIED
    np.testing.assert_array_equal(replayed.output, result.output)
    assert replayed.bell_test == result.bell_test and replayed.certificate == result.certificate
    assert hand_violations(records.settings, records.outputs) == result.bell_test.violations == 0


def test_sv_bits_from_a_file_equal_the_recorded_ones(device_run, tmp_path, capsys) -> None:
    _, records = device_run
    with_t = _saved(records, tmp_path / "with_t.npz")
    without_t = _saved(AmplificationRecords(records.settings, records.outputs), tmp_path / "runs.npz")
    sv_file = tmp_path / "t.bin"
    sv_file.write_bytes(np.packbits(records.t).tobytes())
    common = ["amplify", "--sv-eps", "0", "--delta", "0", "--error", "0.5", "--bits", "1", "--json",
              "--certificate", "paper"]
    assert main(common + ["--records", str(with_t)]) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(common + ["--records", str(without_t), "--sv-file", str(sv_file)]) == 0
    second = json.loads(capsys.readouterr().out)
    assert first["bits"] == second["bits"] == "".join(map(str, device_run[0].output))
    assert first["status"] == STATUS_CERTIFIED and first["randomness"] == "os"

    # Certified but no t anywhere: a clear error, exit 2, one line.
    assert main(common + ["--records", str(without_t)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--sv-file" in err
    # t twice, or too short.
    assert main(common + ["--records", str(with_t), "--sv-file", str(sv_file)]) == 2
    assert "give them once" in capsys.readouterr().err
    with pytest.raises(AmplificationRecordsError, match=f"needs L = {EXTRACTOR.t_length(4 * certified_runs())}"):
        post_process_records(AmplificationRecords(records.settings, records.outputs, records.t[:-1]),
                             0.0, 0.0, 0.5, EXTRACTOR, output_bits=1, certificate="paper")


def test_cli_records_exit_codes(tmp_path, capsys) -> None:
    path = hand_csv(tmp_path / "runs.csv")
    assert main(["amplify", "--records", str(path), "--sv-eps", "0", "--delta", "0.5", "--json"]) == 3
    report = json.loads(capsys.readouterr().out)
    assert report["violations"] == 2 and report["runs"] == 6 and report["output_bits"] == 0
    for extra, message in ((["--protocol", "2", "--blocks", "2"], "Protocol I only"),
                           (["--runs", "10"], "takes n from the file"),
                           (["--checkpoint", str(tmp_path / "c")], "takes n from the file")):
        assert main(["amplify", "--records", str(path), "--sv-eps", "0"] + extra) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err
    bad = write_csv(tmp_path / "bad.csv", [HEADER, "0,0,0,1,0,0,0,0", "0,0,0,1,0,5,0,0"])
    assert main(["amplify", "--records", str(bad), "--sv-eps", "0"]) == 2
    assert "line 3: x2 must be 0 or 1, got 5" in capsys.readouterr().err


def test_example_post_processes_its_data_file() -> None:
    completed = subprocess.run([sys.executable, str(ROOT / "examples" / "amplify_records.py"), "--quick"],
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    data = np.load(ROOT / "examples" / "data" / "four_party_20k.npz")
    violations = hand_violations(data["u"], data["x"])
    assert f"({violations} violations)" in completed.stdout
    assert "accepted" in completed.stdout
    assert "paper chain: not certified" in completed.stdout  # the improved chain certifies
    assert "improved chain: certified" in completed.stdout
    assert (ROOT / "examples" / "data" / "four_party_20k.npz").stat().st_size < 200_000
