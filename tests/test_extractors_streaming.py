"""Chunked cyclic-shift extraction equals the in-memory extractor, from arrays and from files."""

from __future__ import annotations

import numpy as np
import pytest

from extractors import (
    ArrayWordSource,
    ExtractorInputError,
    FileWordSource,
    cyclic_shift_extract,
    cyclic_shift_extract_stream,
)


def padded(bits: np.ndarray, n: int) -> np.ndarray:
    return np.concatenate([bits, np.zeros(n - bits.size, dtype=np.uint8)])


@pytest.mark.parametrize(
    ("n", "len_x", "len_y", "m", "chunk_words"),
    [
        (13, 13, 13, 12, 1),
        (131, 100, 131, 70, 1),
        (1019, 1000, 990, 200, 2),
        (1019, 1019, 1019, 1018, 3),
        (100_043, 100_043, 100_000, 64, 7),
        (100_043, 99_999, 100_043, 1000, 50),
    ],
)
def test_stream_equals_in_memory(n, len_x, len_y, m, chunk_words) -> None:
    rng = np.random.default_rng(n + m)
    x = rng.integers(0, 2, len_x, dtype=np.uint8)
    y = rng.integers(0, 2, len_y, dtype=np.uint8)
    expected = cyclic_shift_extract(padded(x, n), padded(y, n), m)
    out = cyclic_shift_extract_stream(ArrayWordSource.from_bits(x), ArrayWordSource.from_bits(y),
                                      n, m, chunk_words)
    np.testing.assert_array_equal(out, expected)


def test_stream_from_files(tmp_path) -> None:
    rng = np.random.default_rng(9)
    n = 100_043  # next valid length above the 100_000 bits of each file
    x = rng.integers(0, 2, 100_000, dtype=np.uint8)
    y = rng.integers(0, 2, 100_000, dtype=np.uint8)
    np.packbits(x).tofile(tmp_path / "x.bin")
    np.packbits(y).tofile(tmp_path / "y.bin")
    out = cyclic_shift_extract_stream(FileWordSource(tmp_path / "x.bin"),
                                      FileWordSource(tmp_path / "y.bin"), n, 128, chunk_words=5)
    np.testing.assert_array_equal(out, cyclic_shift_extract(padded(x, n), padded(y, n), 128))


def test_stream_rejects_bad_lengths() -> None:
    source = ArrayWordSource.from_bits(np.ones(20, dtype=np.uint8))
    with pytest.raises(ExtractorInputError, match=r"input_length = 20 must be a prime"):
        cyclic_shift_extract_stream(source, source, 20, 4)
    with pytest.raises(ExtractorInputError, match=r"input_length must be >= the length of x"):
        cyclic_shift_extract_stream(source, source, 19, 4)
    with pytest.raises(ExtractorInputError, match=r"output_length must be in \[1, 28\]"):
        cyclic_shift_extract_stream(source, source, 29, 29)
