"""Output paths are checked before anything runs; outputs are atomic; secrets are 0600 and never
written through a link; bad records files are one line (issue 9, items 4, 5)."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import struct

import numpy as np
import pytest

from protocols.cli import main
from protocols.files import OutputPathError, check_output_path, write_atomic
from protocols.records import QKDRecords, load_records, records_sha256
from qdevices import ChainedBellDevice


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def no_device(monkeypatch):
    """Any device measurement fails the test: the checks must come first."""
    def measure(self, *args, **kwargs):
        raise AssertionError("the device ran")
    monkeypatch.setattr(ChainedBellDevice, "measure", measure)


def _one_error_line(capsys, *words) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for word in words:
        assert word in err, err
    return err


def test_key_out_in_a_missing_directory_exits_2_before_running(tmp_path, capsys, no_device) -> None:
    report = tmp_path / "rep.json"
    assert main(["qkd", "--seed", "1", "--report", str(report), "--key-out", "/nonexistent/k.bin"]) == 2
    _one_error_line(capsys, "--key-out", "/nonexistent")
    assert not report.exists()


def test_report_onto_the_records_file_is_refused(tmp_path, capsys) -> None:
    lab = tmp_path / "lab.npz"
    z = np.zeros(10, dtype=np.int64)
    QKDRecords(7, z, z, z, z + 7, z, z).save(lab)
    before = lab.read_bytes()
    assert main(["qkd", "--records", str(lab), "--report", str(lab)]) == 2
    _one_error_line(capsys, "--report", "input")
    assert lab.read_bytes() == before


def test_report_as_a_directory_and_key_equal_to_report_are_refused(tmp_path, capsys, no_device) -> None:
    assert main(["qkd", "--seed", "1", "--report", str(tmp_path)]) == 2
    _one_error_line(capsys, "directory")
    same = str(tmp_path / "x")
    assert main(["qkd", "--seed", "1", "--report", same, "--key-out", same]) == 2
    _one_error_line(capsys, "same file")


def test_key_through_a_symlink_is_refused(tmp_path, capsys, no_device) -> None:
    target = tmp_path / "target"
    target.write_bytes(b"keep")
    link = tmp_path / "key.bin"
    link.symlink_to(target)
    assert main(["qkd", "--seed", "1", "--key-out", str(link)]) == 2
    _one_error_line(capsys, "symbolic link")
    assert target.read_bytes() == b"keep" and link.is_symlink()


def test_amplify_out_onto_a_0644_file_ends_0600(tmp_path) -> None:
    out = tmp_path / "bits.txt"
    out.write_text("old\n")
    out.chmod(0o644)
    # eps = 0, noiseless device, error 1/2: certified bits (exit 0), seed fixed
    assert main(["amplify", "--sv-eps", "0", "--runs", "2000", "--seed", "1", "--error", "0.5",
                 "--out", str(out), "--json"]) == 0
    assert _mode(out) == 0o600
    text = out.read_text()
    assert text != "old\n" and set(text.strip()) <= {"0", "1"}


def test_write_atomic_secret_mode_link_and_crash(tmp_path, monkeypatch) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"old")
    path.chmod(0o644)
    write_atomic(path, b"new", secret=True)
    assert path.read_bytes() == b"new" and _mode(path) == 0o600
    link = tmp_path / "link"
    link.symlink_to(path)
    with pytest.raises(OutputPathError, match="symbolic link"):
        write_atomic(link, b"x", secret=True)
    with pytest.raises(OutputPathError, match="symbolic link"):
        check_output_path(link, secret=True)
    # a crash before the rename leaves the old file whole and no temporary file behind
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        write_atomic(path, b"partial", secret=True)
    assert path.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f", "link"]


def test_extract_refuses_one_file_twice_and_output_onto_input(tmp_path, capsys) -> None:
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(bytes(range(200)))
    b.write_bytes(bytes(range(200, 0, -1)))
    common = ["extract", "two-source", "--min-entropy", "1500", "--min-entropy", "1500"]
    assert main(common + ["--in", str(a), "--in", str(a), "--out", str(tmp_path / "o")]) == 2
    _one_error_line(capsys, "same file")
    assert main(common + ["--in", str(a), "--in", str(b), "--out", str(a)]) == 2
    _one_error_line(capsys, "--out", "input")
    assert a.read_bytes() == bytes(range(200))


def test_plot_out_in_a_missing_directory_exits_2(capsys) -> None:
    assert main(["plot", "rate", "--points", "2", "--settings", "5", "--out", "/nonexistent/r.png"]) == 2
    _one_error_line(capsys, "/nonexistent")


def _good_npz(path, settings=7):
    z = np.zeros(10, dtype=np.int64)
    np.savez(path, settings=settings, i=z, j=z, x=z, y=z + 7, a=z, b=z)
    return path.read_bytes()


@pytest.mark.parametrize("damage", ["truncated", "crc", "empty", "directory", "settings-array"])
def test_qkd_records_malformed_file_is_one_line(tmp_path, capsys, damage) -> None:
    path = tmp_path / "rec.npz"
    data = _good_npz(path)
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "crc":
        corrupt = bytearray(data)
        corrupt[data.index(b"\x93NUMPY") + 100] ^= 0xFF  # inside the first array's data
        path.write_bytes(bytes(corrupt))
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "directory":
        path.unlink()
        path.mkdir()
    else:
        _good_npz(path, settings=[7, 7])
    assert main(["qkd", "--records", str(path)]) == 2
    _one_error_line(capsys, "rec.npz")


def test_devices_json_is_strict(capsys) -> None:
    assert main(["devices", "--rounds", "2", "--json"]) == 0
    out = capsys.readouterr().out

    def refuse(constant):
        raise AssertionError(f"non-JSON constant {constant}")
    json.loads(out, parse_constant=refuse)


def test_records_sha256_by_hand(tmp_path) -> None:
    i = np.array([1, 0, 1]); j = np.array([1, 0, 0]); x = np.array([2, 0, 1])
    y = np.array([0, 3, 3]); a = np.array([1, 1, 0]); b = np.array([0, 1, 1])
    records = QKDRecords(3, i, j, x, y, a, b)
    # layout (protocols.records.records_sha256): M as 8-byte LE, then per round the bytes
    # (i + 2j + 4a + 8b, x, y)
    expected = hashlib.sha256(struct.pack("<q", 3) + bytes(
        int(v) for row in zip(i + 2 * j + 4 * a + 8 * b, x, y) for v in row)).hexdigest()
    assert records_sha256(records) == expected
    csv = tmp_path / "r.csv"
    records.save(csv)
    assert records_sha256(load_records(csv)) == expected  # the format does not matter


def test_report_fingerprints_the_key_and_never_holds_it(tmp_path) -> None:
    key, report = tmp_path / "k.bin", tmp_path / "r.json"
    assert main(["qkd", "--rounds", "300000", "--seed", "1", "--key-out", str(key), "--report", str(report),
                 "--json"]) == 0
    data = json.loads(report.read_text())
    assert data["key_sha256"] == hashlib.sha256(key.read_bytes()).hexdigest()
    assert len(data["raw_records_sha256"]) == 64
    assert key.read_bytes().hex() not in report.read_text()
    assert _mode(key) == 0o600


def test_key_out_bob_writes_bobs_equal_key_with_mode_0600(tmp_path, capsys) -> None:
    """`--key-out-bob` (emulations): Bob's key is written by the same secret writer, equals Alice's
    (both fingerprints agree with the report's key_sha256), and may not be the same file."""
    alice, bob = tmp_path / "alice.key", tmp_path / "bob.key"
    assert main(["qkd", "--rounds", "300000", "--seed", "4", "--key-out", str(alice), "--key-out-bob", str(bob),
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert alice.read_bytes() == bob.read_bytes() and len(alice.read_bytes()) == -(-report["key_length"] // 8)
    assert hashlib.sha256(bob.read_bytes()).hexdigest() == report["key_sha256"]
    assert stat.S_IMODE(os.stat(bob).st_mode) == 0o600
    assert main(["qkd", "--rounds", "1000", "--key-out", str(alice), "--key-out-bob", str(alice)]) == 2
