"""``bellbox extract``: outputs equal the library's, refusals are one line with exit status 2."""

from __future__ import annotations

import json
import stat

import numpy as np
import pytest

from extractors import cyclic_shift_extract, toeplitz_hash
from protocols.cli import main


@pytest.fixture()
def files(tmp_path):
    rng = np.random.default_rng(21)
    sources = {name: rng.integers(0, 2, size, dtype=np.uint8)
               for name, size in (("a", 8000), ("b", 8000), ("c", 4000), ("s", 20000))}
    for name, bits in sources.items():
        np.packbits(bits).tofile(tmp_path / f"{name}.bin")
    return tmp_path, sources


def run(argv, capsys):
    status = main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_toeplitz_output_and_report(files, capsys) -> None:
    path, src = files
    out = path / "o.bin"
    status, stdout, _ = run(["extract", "toeplitz", "--in", str(path / "a.bin"), "--seed-file",
                             str(path / "s.bin"), "--out", str(out), "--min-entropy", "6000"],
                            capsys)
    report = json.loads(stdout)
    # Leftover hash lemma by hand: m = floor(6000 + 2 - 2 log2(1e9)) = 5942.
    assert status == 0 and report["output_length"] == 5942
    assert report["error"] <= 1e-9
    m = report["output_length"]
    expected = toeplitz_hash(src["a"], src["s"][: 8000 + m - 1], m)
    np.testing.assert_array_equal(np.unpackbits(np.fromfile(out, np.uint8))[:m], expected)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_two_source_output_equals_library(files, capsys) -> None:
    path, src = files
    out = path / "o.txt"
    status, stdout, _ = run(["extract", "two-source", "--in", str(path / "a.bin"), "--in",
                             str(path / "b.bin"), "--out", str(out), "--min-entropy", "7000",
                             "--min-entropy", "7000", "--bits", "100", "--format", "bin"], capsys)
    assert status == 0
    report = json.loads(stdout)
    assert report["padded_length"] == 8053 and report["output_length"] == 100
    pad = np.zeros(53, np.uint8)
    expected = cyclic_shift_extract(np.concatenate([src["a"], pad]),
                                    np.concatenate([src["b"], pad]), 100)
    np.testing.assert_array_equal(np.unpackbits(np.fromfile(out, np.uint8))[:100], expected)


def test_three_source_and_ascii(files, capsys, tmp_path) -> None:
    path, src = files
    for name in "abc":
        (path / f"{name}.txt").write_text("".join(map(str, src[name])))
    status, stdout, _ = run(["extract", "three-source"]
                            + sum((["--in", str(path / f"{n}.txt")] for n in "abc"), [])
                            + ["--out", str(path / "o3.txt"), "--format", "ascii",
                               "--min-entropy", "7000", "--min-entropy", "3000",
                               "--min-entropy", "3000"], capsys)
    assert status == 0
    m = json.loads(stdout)["output_length"]
    assert len((path / "o3.txt").read_text().strip()) == m > 0


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--min-entropy", "4000", "--min-entropy", "4000"], "k1 + k2 >= 8112.8"),
        (["--min-entropy", "7000", "--min-entropy", "7000", "--bits", "7000"], "output_length <= 5888"),
        (["--min-entropy", "7000"], "--min-entropy must be given 2 time"),
        ([], "--min-entropy is required unless --bits is given"),
    ],
)
def test_refusals_are_one_line_exit_2(files, capsys, extra, match) -> None:
    path, _ = files
    status, stdout, stderr = run(["extract", "two-source", "--in", str(path / "a.bin"), "--in",
                                  str(path / "b.bin"), "--out", str(path / "x.bin")] + extra,
                                 capsys)
    assert status == 2 and stdout == ""
    assert stderr.count("\n") == 1 and match in stderr
    assert not (path / "x.bin").exists()


def test_bits_without_claims_is_written_only_with_uncertified(files, capsys) -> None:
    path, _ = files
    status, stdout, _ = run(["extract", "two-source", "--in", str(path / "a.bin"), "--in",
                             str(path / "b.bin"), "--out", str(path / "u.bin"), "--bits", "64",
                             "--uncertified"], capsys)
    report = json.loads(stdout)
    assert status == 3 and report["certified"] is False and report["error"] is None
    assert "no --min-entropy claim" in report["uncertified_reason"]
    assert (path / "u.bin").stat().st_size == 8


@pytest.mark.parametrize("method", ["toeplitz", "two-source"])
def test_bits_without_claims_or_uncertified_writes_nothing(files, capsys, method) -> None:
    """Issue 9 item 7: ``--bits M`` without a min-entropy claim is refused (exit 2, no file)."""
    path, _ = files
    inputs = ["--in", str(path / "a.bin")] + (
        ["--seed-file", str(path / "s.bin")] if method == "toeplitz" else ["--in", str(path / "b.bin")])
    status, stdout, stderr = run(["extract", method, *inputs, "--out", str(path / "u.bin"),
                                  "--bits", "64"], capsys)
    assert status == 2 and stdout == ""
    assert stderr.count("\n") == 1 and "--uncertified" in stderr and "--bits=64" in stderr
    assert not (path / "u.bin").exists()


def test_uncertified_with_claims_is_refused(files, capsys) -> None:
    path, _ = files
    status, _, stderr = run(["extract", "two-source", "--in", str(path / "a.bin"), "--in",
                             str(path / "b.bin"), "--out", str(path / "u.bin"), "--min-entropy", "7000",
                             "--min-entropy", "7000", "--uncertified"], capsys)
    assert status == 2 and "--uncertified" in stderr
    assert not (path / "u.bin").exists()
