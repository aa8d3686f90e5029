r"""Exact GF(2) cross-correlation of bit sequences: the kernel of every extractor here.

For bits ``x`` of length ``n`` and ``y`` of length at least ``n + count - 1`` the correlation is

.. math::  p_i = \bigoplus_{j=0}^{n-1} x_j \, y_{j+i}, \qquad i = 0, \dots, count - 1,

the product over GF(2) of the ``count x n`` Hankel matrix ``H[i, j] = y[i + j]`` with ``x``.
Toeplitz hashing and the cyclic-shift two-source extractor are both this product with the
inputs re-indexed (see :mod:`extractors.toeplitz` and :mod:`extractors.two_source`).

Two exact methods:

* **word kernel** (small ``count``, long input): MSB-first uint64 words, ``count * n / 64``
  AND/XOR word operations and one popcount per output; compiled with numba, whose start-up
  in a fresh process (about 0.5 s) is why short inputs go to the FFT.
  Memory is the packed inputs only, so it also serves chunked streaming.
* **FFT** (large ``count``, or short input): the integer correlation ``c_i = sum_j x_j y_{j+i}`` from real FFTs
  of length ``L >= n + count - 1`` (no wrap-around reaches ``i < count``), then ``p_i = c_i mod 2``.
  Exactness: every ``c_i`` is an integer in ``[0, n]``. Percival's bound for FFT
  multiplication (Math. Comp. 72 (2003) 387-395) limits the absolute error to
  ``||x||_2 ||y||_2 ((1+u)^{3 lg L} (1+u sqrt5)^{3 lg L + 1} (1+beta)^{3 lg L} - 1)``, about
  ``400 u lg L ||x||_2 ||y||_2 < 2e-4`` for ``n + count <= 3e8`` (``u = 2^-53``, twiddle error
  ``beta ~ u``), far below the 1/2 rounding margin. Each call also checks the largest distance
  to the nearest integer and raises ``ArithmeticError`` above 1/4, so a wrong rounding can
  never pass silently.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from extractors.bits import WORD_BITS, bits_to_words

_ROUNDING_MARGIN = 0.25
_CONCURRENT_MAX_LENGTH = 1 << 25
_SLICE = 1 << 16  # elements per slice of the FFT path's element-wise steps: temporaries stay in L2 cache

#: Seconds numba needs in a process before its first compiled call (type registries and the
#: on-disk cache; measured 0.44 s on the development machine), paid by the word kernel only.
_NUMBA_START_SECONDS = 0.5


@numba.njit(cache=True, nogil=True)
def _correlate_words_kernel(x_words, y_words, shift_groups):
    """Unreduced sums ``acc[64 a + b] = XOR_w x[w] & (y shifted left by 64 a + b bits)[w]``.

    Single-threaded: on the shared 2-core machine numba's parallel loops measured slower
    (thread start-up dominated).
    """
    acc = np.zeros(shift_groups * 64, dtype=np.uint64)
    for w in range(x_words.size):
        xv = x_words[w]
        if xv == 0:
            continue
        for a in range(shift_groups):
            y_high = y_words[w + a]
            y_low = y_words[w + a + 1] >> np.uint64(1)
            base = a * 64
            for b in range(64):
                shifted = (y_high << np.uint64(b)) | (y_low >> np.uint64(63 - b))
                acc[base + b] ^= xv & shifted
    return acc


def correlate_words(x_words: np.ndarray, y_words: np.ndarray, count: int) -> np.ndarray:
    """GF(2) correlation from packed words, as a 0/1 uint8 array of length ``count``.

    ``x_words`` holds the ``n`` bits of ``x`` (padding bits zero); ``y_words`` holds ``y``
    (missing words up to ``len(x_words) + ceil(count / 64)`` are taken as zero: they only ever
    meet zero padding of ``x`` or outputs ``i >= count``).
    """
    acc = np.zeros(WORD_BITS * -(-count // WORD_BITS), dtype=np.uint64)
    correlate_words_accumulate(x_words, y_words, acc)
    return parities_of(acc, count)


def correlate_words_accumulate(x_words: np.ndarray, y_words: np.ndarray,
                               acc: np.ndarray) -> None:
    """Streaming form of :func:`correlate_words`: XOR the unreduced word sums into ``acc``.

    ``acc`` is a uint64 array of ``64 * ceil(count / 64)`` words; :func:`parities_of` turns it
    into the ``count`` output bits once every chunk has been added.
    """
    groups = acc.size // WORD_BITS
    if y_words.size < x_words.size + groups:
        y_words = np.concatenate(
            [y_words, np.zeros(x_words.size + groups - y_words.size, dtype=np.uint64)]
        )
    acc ^= _correlate_words_kernel(
        np.ascontiguousarray(x_words, dtype=np.uint64),
        np.ascontiguousarray(y_words, dtype=np.uint64),
        groups,
    )


def parities_of(acc: np.ndarray, count: int) -> np.ndarray:
    """Output bits from an accumulator filled by :func:`correlate_words_accumulate`."""
    folded = acc[:count].copy()
    for shift in (32, 16, 8, 4, 2, 1):  # parity by XOR folding (numpy < 2 has no bitwise_count)
        folded ^= folded >> np.uint64(shift)
    return (folded & np.uint64(1)).astype(np.uint8)


def _multiply_by_conjugate(spectrum: np.ndarray, other: np.ndarray) -> None:
    """``spectrum *= conj(other)`` in place, in slices of ``_SLICE`` (one slice of temporaries)."""
    for start in range(0, spectrum.size, _SLICE):
        piece = slice(start, start + _SLICE)
        spectrum[piece] *= np.conj(other[piece])


def _round_to_parity(counts: np.ndarray, out: np.ndarray) -> float:
    """``out = round(counts) mod 2``; returns the largest distance to the nearest integer."""
    worst = 0.0
    for start in range(0, out.size, _SLICE):
        piece = counts[start : min(start + _SLICE, out.size)]
        rounded = np.rint(piece)
        worst = max(worst, float(np.max(np.abs(piece - rounded))))
        out[start : start + piece.size] = rounded.astype(np.int64) & 1
    return worst


def _padded_spectrum(bits: np.ndarray, length: int) -> np.ndarray:
    import scipy.fft

    buffer = np.zeros(length)
    buffer[: bits.size] = bits
    return scipy.fft.rfft(buffer, overwrite_x=True)


def correlate_fft(x: np.ndarray, y: np.ndarray, count: int) -> np.ndarray:
    """GF(2) correlation of bit arrays by a float64 real FFT (exact; see the module docstring).

    pocketfft runs one 1-D transform on one core, so below ``_CONCURRENT_MAX_LENGTH`` the two
    forward transforms run in two threads (it releases the GIL); above it they run one after
    the other, which keeps one buffer fewer alive (peak memory about 4 L doubles).
    """
    import scipy.fft  # imported on first use: about 0.1 s that short inputs never need

    n = x.size
    length = scipy.fft.next_fast_len(n + count - 1, real=True)
    if length <= _CONCURRENT_MAX_LENGTH:
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(_padded_spectrum, y[: n + count - 1], length)
            other = _padded_spectrum(x, length)
            spectrum = pending.result()
    else:
        spectrum = _padded_spectrum(y[: n + count - 1], length)
        other = _padded_spectrum(x, length)
    _multiply_by_conjugate(spectrum, other)
    del other
    counts = scipy.fft.irfft(spectrum, length, overwrite_x=True)
    del spectrum
    parities = np.empty(count, dtype=np.uint8)
    worst = _round_to_parity(counts, parities)
    if worst > _ROUNDING_MARGIN:
        raise ArithmeticError(
            f"FFT correlation lost exactness (rounding distance {worst:.3g}); input too long"
        )
    return parities


def word_kernel_preferred(n: int, count: int) -> bool:
    """True when the word kernel should beat the FFT.

    Rough cost model from measurements on the development machine (x86-64, AVX2, shared):
    word kernel ``_NUMBA_START_SECONDS + 6e-11 s * count * n / 64`` while its ``count``-word
    accumulator stays in L1/L2 (``count <= 8192``), FFT ``4.5e-9 s * L log2 L`` with
    ``L = n + count``, with a safety factor of 5 towards the FFT on the per-bit terms. The start-up term
    keeps short inputs (a verification tag or privacy amplification of a short raw key)
    on the FFT, which needs no compilation. Both methods are exact; this only picks the faster.
    """
    total = n + count
    fft_seconds = 4.5e-9 * total * math.log2(total + 1)
    word_seconds = 6e-11 * count * n / 64
    return count <= 8192 and _NUMBA_START_SECONDS + 5 * word_seconds < fft_seconds


def correlate(x: np.ndarray, y: np.ndarray, count: int) -> np.ndarray:
    """GF(2) correlation ``p_i = XOR_j x_j y_{j+i}`` (``i < count``) of 0/1 uint8 arrays.

    ``x`` has ``n`` bits, ``y`` at least ``n + count - 1``; picks the faster exact method.
    """
    if word_kernel_preferred(x.size, count):
        x_words = bits_to_words(x)
        y_words = bits_to_words(y[: x.size + count - 1], x_words.size + -(-count // WORD_BITS))
        return correlate_words(x_words, y_words, count)
    return correlate_fft(x, y, count)
