"""Chunked cyclic-shift extraction: bounded memory for inputs of any length.

The cyclic-shift extractor (:func:`extractors.two_source.cyclic_shift_extract`) with output
length ``m`` is the GF(2) correlation ``z_i = XOR_k x_k y'_{k+i}`` of ``x`` with the extended
``y' = y || y[0 : m-1]`` (wrap-around at bit ``n``). Here ``x`` and ``y`` are read as MSB-first
uint64 word chunks (:mod:`extractors.bits`), each chunk of ``x`` meets the matching words of
``y'`` plus ``ceil(m/64)`` words of look-ahead, and the word kernel of
:mod:`extractors.gf2_correlation` XOR-accumulates ``64 * ceil(m / 64)`` partial sums.
Memory: two chunks plus the ``m``-bit wrap, whatever ``n`` is. The result is bit for bit the
in-memory extractor's (tested).

Sources shorter than ``n`` are zero-padded (injective: min-entropy unchanged).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from extractors.bits import WORD_BITS, as_bits, bits_to_words, bytes_to_words, words_to_bits
from extractors.errors import ExtractorInputError
from extractors.gf2_correlation import correlate_words_accumulate, parities_of
from extractors.primes import require_cyclic_length

DEFAULT_CHUNK_WORDS = 1 << 20  # 64 Mbit (8 MiB) per input per chunk


class WordSource(Protocol):
    """A random-access bit sequence read as MSB-first uint64 words."""

    @property
    def bit_length(self) -> int:
        """Number of bits; bits at and beyond it read as 0."""

    def read_words(self, start: int, count: int) -> np.ndarray:
        """Words ``start .. start + count - 1``, zero past the end."""


@dataclass(frozen=True)
class ArrayWordSource:
    """An in-memory bit array as a :class:`WordSource`."""

    words: np.ndarray
    bit_length: int

    @classmethod
    def from_bits(cls, bits: np.ndarray) -> ArrayWordSource:
        bits = as_bits(bits)
        return cls(bits_to_words(bits), bits.size)

    def read_words(self, start: int, count: int) -> np.ndarray:
        out = np.zeros(count, dtype=np.uint64)
        available = self.words[start: start + count]
        out[: available.size] = available
        return out


@dataclass(frozen=True)
class FileWordSource:
    """A binary bit file (MSB-first bytes, ``8 * size`` bits) read chunk by chunk."""

    path: Path

    @property
    def bit_length(self) -> int:
        return 8 * os.stat(self.path).st_size

    def read_words(self, start: int, count: int) -> np.ndarray:
        with open(self.path, "rb") as handle:
            handle.seek(8 * start)
            return bytes_to_words(handle.read(8 * count), count)


@dataclass(frozen=True)
class _WrappedSource:
    """``y' = y`` zero-padded to ``n`` bits, then ``y[0 : wrap]``, then zeros."""

    source: WordSource
    n: int
    tail: np.ndarray  # words from word n // 64 on

    @classmethod
    def build(cls, source: WordSource, n: int, wrap: int) -> _WrappedSource:
        first = n // WORD_BITS
        head_bits = words_to_bits(source.read_words(first, 1), n - first * WORD_BITS)
        wrap_words = source.read_words(0, -(-wrap // WORD_BITS))
        tail_bits = np.concatenate([head_bits, words_to_bits(wrap_words, wrap)])
        return cls(source, n, bits_to_words(tail_bits))

    def read_words(self, start: int, count: int) -> np.ndarray:
        first = self.n // WORD_BITS
        out = np.zeros(count, dtype=np.uint64)
        direct = max(0, min(start + count, first) - start)
        if direct:
            out[:direct] = self.source.read_words(start, direct)
        tail_start = max(start, first) - first
        tail = self.tail[tail_start: tail_start + count - direct]
        out[direct: direct + tail.size] = tail
        return out


def cyclic_shift_extract_stream(x: WordSource, y: WordSource, input_length: int,
                                output_length: int,
                                chunk_words: int = DEFAULT_CHUNK_WORDS) -> np.ndarray:
    """Cyclic-shift extractor on sources zero-padded to ``input_length`` bits, in chunks.

    ``input_length`` is a prime with primitive root 2, at least both sources' lengths;
    ``1 <= output_length <= input_length - 1``. Returns the same bits as
    :func:`extractors.two_source.cyclic_shift_extract` on the padded arrays.
    """
    require_cyclic_length(input_length, "input_length")
    for name, source in (("x", x), ("y", y)):
        if source.bit_length > input_length:
            raise ExtractorInputError(
                f"input_length must be >= the length of {name} ({source.bit_length} bits), "
                f"got {input_length}"
            )
    if not 1 <= output_length <= input_length - 1:
        raise ExtractorInputError(
            f"output_length must be in [1, {input_length - 1}], got {output_length}"
        )
    if chunk_words < 1:
        raise ExtractorInputError(f"chunk_words must be >= 1, got {chunk_words}")
    groups = -(-output_length // WORD_BITS)
    wrapped = _WrappedSource.build(y, input_length, output_length - 1)
    acc = np.zeros(groups * WORD_BITS, dtype=np.uint64)
    x_words = -(-x.bit_length // WORD_BITS)
    for start in range(0, x_words, chunk_words):
        count = min(chunk_words, x_words - start)
        correlate_words_accumulate(
            x.read_words(start, count), wrapped.read_words(start, count + groups), acc
        )
    return parities_of(acc, output_length)
