"""Bit arrays, packed bytes, packed 64-bit words and bit files, with explicit bit order.

Conventions used throughout the package:

* A *bit array* is a 1-D ``numpy.uint8`` array of 0s and 1s; bit ``j`` is ``bits[j]``.
* *Packed bytes* are MSB-first (``numpy.packbits`` default, ``bitorder="big"``): bit ``j`` is
  bit ``7 - j % 8`` of byte ``j // 8``. The last byte is padded with zero bits.
* *Packed words* are ``numpy.uint64`` words, MSB-first as well: bit ``j`` is bit ``63 - j % 64``
  of word ``j // 64`` (the big-endian reading of the packed bytes). Padding bits are zero.
* A *binary bit file* holds packed bytes (MSB-first unless ``bitorder="little"`` is given);
  it carries ``8 * file size`` bits unless a bit count is given. An *ASCII bit file* holds
  the characters ``0`` and ``1``; whitespace is ignored.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np

from extractors.errors import ExtractorInputError

BitOrder = Literal["big", "little"]
FileFormat = Literal["bin", "ascii"]

WORD_BITS = 64


def as_bits(values: object, name: str = "bits") -> np.ndarray:
    """Return ``values`` as a contiguous 1-D uint8 array of 0s and 1s.

    Raises :class:`ExtractorInputError` naming ``name`` if ``values`` is not one-dimensional
    or holds anything other than 0 and 1.
    """
    array = np.asarray(values)
    if array.ndim != 1:
        raise ExtractorInputError(
            f"{name} must be a one-dimensional array of bits, got shape {array.shape}"
        )
    if array.dtype == np.bool_:
        return np.ascontiguousarray(array, dtype=np.uint8)
    if array.size and not np.issubdtype(array.dtype, np.integer):
        if not np.issubdtype(array.dtype, np.floating) or not np.all(np.isin(array, (0.0, 1.0))):
            raise ExtractorInputError(
                f"{name} must hold only the bit values 0 and 1, got dtype {array.dtype}"
            )
    if array.size and (array.min() < 0 or array.max() > 1):
        bad = array[(array < 0) | (array > 1)][0]
        raise ExtractorInputError(
            f"{name} must hold only the bit values 0 and 1, got the value {bad.item()!r}"
        )
    return np.ascontiguousarray(array, dtype=np.uint8)


def pack_bits(bits: np.ndarray, bitorder: BitOrder = "big") -> np.ndarray:
    """Pack a bit array into uint8 bytes (zero-padded), MSB-first unless ``bitorder="little"``."""
    return np.packbits(as_bits(bits), bitorder=bitorder)


def unpack_bits(packed: np.ndarray | bytes, count: int | None = None,
                bitorder: BitOrder = "big") -> np.ndarray:
    """Unpack bytes into a bit array of ``count`` bits (all ``8 * len(packed)`` bits if None)."""
    data = np.frombuffer(packed, dtype=np.uint8) if isinstance(packed, (bytes, bytearray)) \
        else np.asarray(packed, dtype=np.uint8)
    if count is not None and not 0 <= count <= 8 * data.size:
        raise ExtractorInputError(
            f"count must be in [0, {8 * data.size}] for {data.size} bytes, got {count}"
        )
    return np.unpackbits(data, count=count, bitorder=bitorder)


def bytes_to_words(packed: np.ndarray | bytes, word_count: int | None = None) -> np.ndarray:
    """MSB-first packed bytes to MSB-first uint64 words, zero-padded to ``word_count`` words."""
    data = np.frombuffer(packed, dtype=np.uint8) if isinstance(packed, (bytes, bytearray)) \
        else np.ascontiguousarray(packed, dtype=np.uint8)
    needed = -(-data.size // 8)
    word_count = needed if word_count is None else word_count
    if word_count < needed:
        raise ExtractorInputError(
            f"word_count must be >= {needed} for {data.size} bytes, got {word_count}"
        )
    padded = np.zeros(8 * word_count, dtype=np.uint8)
    padded[: data.size] = data
    return padded.view(">u8").astype(np.uint64)


def bits_to_words(bits: np.ndarray, word_count: int | None = None) -> np.ndarray:
    """Bit array to MSB-first uint64 words: bit ``j`` is bit ``63 - j % 64`` of word ``j // 64``."""
    return bytes_to_words(np.packbits(as_bits(bits)), word_count)


def words_to_bits(words: np.ndarray, count: int) -> np.ndarray:
    """Inverse of :func:`bits_to_words`: the first ``count`` bits of MSB-first uint64 words."""
    raw = np.ascontiguousarray(words, dtype=np.uint64).astype(">u8").view(np.uint8)
    return unpack_bits(raw, count)


def read_bits(path: str | Path, file_format: FileFormat = "bin", count: int | None = None,
              bitorder: BitOrder = "big") -> np.ndarray:
    """Read a bit file into a bit array (see the module docstring for the formats)."""
    path = Path(path)
    if file_format == "bin":
        return unpack_bits(np.fromfile(path, dtype=np.uint8), count, bitorder)
    if file_format == "ascii":
        text = np.frombuffer(path.read_bytes(), dtype=np.uint8)
        text = text[~np.isin(text, np.frombuffer(b" \t\r\n", dtype=np.uint8))]
        if text.size and not np.all((text == ord("0")) | (text == ord("1"))):
            raise ExtractorInputError(
                f"ASCII bit file {str(path)!r} must hold only '0', '1' and whitespace"
            )
        bits = (text - ord("0")).astype(np.uint8)
        if count is not None:
            if not 0 <= count <= bits.size:
                raise ExtractorInputError(
                    f"count must be in [0, {bits.size}] for {str(path)!r}, got {count}"
                )
            bits = bits[:count]
        return bits
    raise ExtractorInputError(f"file_format must be 'bin' or 'ascii', got {file_format!r}")


def encode_bits(bits: np.ndarray, file_format: FileFormat = "bin", bitorder: BitOrder = "big") -> bytes:
    """The bytes of a bit file holding ``bits`` (binary: zero-padded packed bytes; ASCII: one
    character 0/1 per bit and a newline)."""
    bits = as_bits(bits)
    if file_format == "bin":
        return pack_bits(bits, bitorder).tobytes()
    if file_format == "ascii":
        return (bits + ord("0")).astype(np.uint8).tobytes() + b"\n"
    raise ExtractorInputError(f"file_format must be 'bin' or 'ascii', got {file_format!r}")


def write_bits(path: str | Path, bits: np.ndarray, file_format: FileFormat = "bin",
               bitorder: BitOrder = "big", mode: int = 0o600) -> None:
    """Write a bit array as a binary (zero-padded bytes) or ASCII bit file, with file mode ``mode``.

    The default mode 0600 suits key material; the file is created with it before any bit is
    written.
    """
    payload = encode_bits(bits, file_format, bitorder)
    path = Path(path)
    path.touch(mode=mode, exist_ok=True)
    path.chmod(mode)
    path.write_bytes(payload)


def bit_count_of_file(path: str | Path) -> int:
    """Number of bits in a binary bit file: eight per byte."""
    return 8 * Path(path).stat().st_size


def iter_file_words(path: str | Path, chunk_words: int) -> Iterator[np.ndarray]:
    """Stream a binary (MSB-first) bit file as uint64 word chunks of ``chunk_words`` words.

    Every chunk but the last has exactly ``chunk_words`` words; the last is zero-padded to a
    whole word. Memory use is one chunk, whatever the file size.
    """
    if chunk_words < 1:
        raise ExtractorInputError(f"chunk_words must be >= 1, got {chunk_words}")
    with open(path, "rb") as handle:
        while True:
            block = handle.read(8 * chunk_words)
            if not block:
                return
            yield bytes_to_words(block)
