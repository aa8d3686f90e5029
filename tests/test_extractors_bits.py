"""Bit conversions and files: explicit MSB-first conventions."""

from __future__ import annotations

import stat

import numpy as np
import pytest

from extractors import ExtractorInputError
from extractors.bits import (
    bits_to_words,
    iter_file_words,
    pack_bits,
    read_bits,
    unpack_bits,
    words_to_bits,
    write_bits,
)


def test_msb_first_conventions_by_hand() -> None:
    bits = np.array([1, 0, 0, 0, 0, 0, 0, 1, 1], dtype=np.uint8)
    assert pack_bits(bits).tolist() == [0b10000001, 0b10000000]
    assert pack_bits(bits, "little").tolist() == [0b10000001, 0b00000001]
    words = bits_to_words(bits)
    assert words.dtype == np.uint64
    assert int(words[0]) == (1 << 63) | (1 << 56) | (1 << 55)


def test_roundtrips() -> None:
    rng = np.random.default_rng(1)
    bits = rng.integers(0, 2, 1000, dtype=np.uint8)
    np.testing.assert_array_equal(unpack_bits(pack_bits(bits), 1000), bits)
    np.testing.assert_array_equal(words_to_bits(bits_to_words(bits), 1000), bits)


def test_files(tmp_path) -> None:
    bits = np.array([1, 1, 0, 1, 0, 0, 1, 0, 1, 1], dtype=np.uint8)
    write_bits(tmp_path / "a.bin", bits)
    assert stat.S_IMODE((tmp_path / "a.bin").stat().st_mode) == 0o600
    np.testing.assert_array_equal(read_bits(tmp_path / "a.bin")[:10], bits)
    assert read_bits(tmp_path / "a.bin").size == 16
    (tmp_path / "b.txt").write_text("1101 0010\n11\n")
    np.testing.assert_array_equal(read_bits(tmp_path / "b.txt", "ascii"), bits)
    write_bits(tmp_path / "c.txt", bits, "ascii")
    assert (tmp_path / "c.txt").read_text() == "1101001011\n"
    chunks = list(iter_file_words(tmp_path / "a.bin", 1))
    assert len(chunks) == 1 and int(chunks[0][0]) == 0b11010010_11000000 << 48


def test_bad_values(tmp_path) -> None:
    with pytest.raises(ExtractorInputError, match=r"bits must hold only the bit values 0 and 1, got the value 2"):
        pack_bits(np.array([0, 2]))
    (tmp_path / "bad.txt").write_text("0102")
    with pytest.raises(ExtractorInputError, match=r"must hold only '0', '1' and whitespace"):
        read_bits(tmp_path / "bad.txt", "ascii")
