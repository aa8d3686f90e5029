"""Protocol randomness: a CSPRNG keyed from the operating system by default, a seeded mode for experiments.

Every random choice a protocol makes (test or key round, measurement settings, hash seeds)
draws from a :class:`Randomness`.

Default (secure) mode
    The bytes are the keystream of the ChaCha20 stream cipher (RFC 8439, Sec. 2.4: 20 rounds,
    256-bit key, 96-bit nonce; here through the ``cryptography`` package, i.e. OpenSSL) under a
    key and nonce drawn from ``os.urandom``. This is the construction of the Linux kernel's
    CRNG (``drivers/char/random.c``, ChaCha20 keyed from the entropy pool since Linux 4.8) and
    of OpenBSD's ``arc4random``: the output is computationally indistinguishable from uniform
    as long as ChaCha20 is a pseudorandom function (the assumption of RFC 8439 Sec. 1). The key
    is replaced by fresh ``os.urandom`` bytes after every :data:`REKEY_BYTES` bytes (2^24
    blocks), far below the 2^32 blocks of RFC 8439's 32-bit counter, so no (key, nonce,
    counter) triple is ever reused. The generator is about 10x faster than ``os.urandom`` here
    (2.6 GB/s against 0.19 GB/s, ``benchmarks/bench_qkd.py``).
Seeded mode
    ``Randomness(seed=s)`` is a reproducible PCG64 stream for experiments and tests: its 64-bit
    outputs as one continuous little-endian byte stream, whatever the sizes of the requests
    (``numpy.random.Generator.bytes`` is slower: it goes through ``integers``); every result
    built from it carries ``secure = False`` (``randomness: "seeded (not secure)"``).

Exactness (both modes, assuming uniform bytes):

* :meth:`integers` is exactly uniform: a ``w``-byte word ``W`` (the fewest bytes with
  ``256**w >= high``) is accepted when ``W < L = high * floor(256**w / high)`` and mapped to
  ``W mod high``; every value has exactly ``L / high`` preimages among the accepted words. A
  position whose word is rejected draws a fresh word (and again, until one is accepted), so
  each position holds the first accepted word of its own i.i.d. sequence.
  For ``high <= 256`` that is one byte per value (acceptance ``L / 256 >= 1/2``; 252/256 at M = 7).
* :meth:`bernoulli` is 1 with probability exactly ``p`` (the binary64 value given, which is a
  dyadic rational with at most 1074 fraction bits): it compares an infinite uniform fraction
  ``U = 0.B_1 B_2 ...`` (base 256) with ``p``'s base-256 expansion lazily, one byte at a time,
  drawing byte ``k + 1`` only for the rounds whose first ``k`` bytes tie with ``p``'s (a
  fraction ``256**-k`` of them); ``[U < p]`` has probability ``p``. A round whose bytes tie
  with every digit of ``p`` has ``U >= p`` and gives 0. About one byte per bit.
* :meth:`uniform` gives 53-bit dyadic fractions ``k / 2**53``, ``k`` uniform on ``[0, 2**53)``.
"""

from __future__ import annotations

import os
from fractions import Fraction
from functools import lru_cache

import numpy as np

_FRACTION_BITS = 53
#: Domain separator mixed into seeded streams, so that a protocol seeded with ``s`` never
#: shares its stream with a device (or anything else) seeded with the same ``s``.
_PROTOCOL_STREAM = 0x7072_6F74  # "prot"
#: Keystream bytes per ChaCha20 key before a fresh key is drawn from ``os.urandom`` (2^24 blocks).
REKEY_BYTES = 2**30


class _ChaCha20Stream:
    """ChaCha20 keystream (RFC 8439) under keys drawn from ``os.urandom`` (module docstring)."""

    def __init__(self) -> None:
        self._encryptor = None
        self._left = 0

    def _rekey(self) -> None:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

        # 16-byte nonce of the cryptography package: 4-byte block counter (0) then a random
        # 96-bit nonce; the key is 32 random bytes.
        nonce = bytes(4) + os.urandom(12)
        self._encryptor = Cipher(algorithms.ChaCha20(os.urandom(32), nonce), mode=None).encryptor()
        self._left = REKEY_BYTES

    def read(self, count: int) -> bytes:
        parts = []
        while count:
            if self._left == 0:
                self._rekey()
            take = min(count, self._left)
            parts.append(self._encryptor.update(bytes(take)))
            self._left -= take
            count -= take
        return b"".join(parts)


class Randomness:
    """A source of protocol randomness.

    Parameters
    ----------
    seed:
        ``None`` (default) uses the ChaCha20 generator keyed from ``os.urandom`` (module
        docstring); an integer gives a reproducible stream that is **not secure** and is
        marked so in every result. The stream is seeded from ``SeedSequence([seed, tag])``:
        independent of a device's ``default_rng(seed)``, whose outcomes would otherwise be
        correlated with the protocol's choices.
    """

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed
        self._generator = (
            None
            if seed is None
            else np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, _PROTOCOL_STREAM])))
        )
        self._stream = _ChaCha20Stream() if seed is None else None
        self._unread = b""  # seeded mode: bytes of the last 64-bit output not handed out yet

    @property
    def secure(self) -> bool:
        """True when the bits come from the OS-keyed CSPRNG (not from a seed)."""
        return self._generator is None

    @property
    def label(self) -> str:
        return "os" if self.secure else "seeded (not secure)"

    def random_bytes(self, count: int) -> bytes:
        """``count`` uniformly random bytes."""
        if count < 0:
            raise ValueError(f"count must be >= 0, got {count}")
        if self._generator is None:
            return self._stream.read(int(count))
        count, buffered = int(count), self._unread
        if len(buffered) < count:
            words = self._generator.bit_generator.random_raw(-(-(count - len(buffered)) // 8))  # PCG64 outputs
            buffered += words.astype("<u8", copy=False).tobytes()
        self._unread = buffered[count:]
        return buffered[:count]

    def _byte_array(self, count: int) -> np.ndarray:
        return np.frombuffer(self.random_bytes(count), dtype=np.uint8)

    def bits(self, count: int) -> np.ndarray:
        """``count`` uniform bits as a 0/1 ``uint8`` array."""
        return np.unpackbits(self._byte_array((count + 7) // 8), count=count)

    def uniform(self, count: int) -> np.ndarray:
        """``count`` uniform reals in [0, 1), each a multiple of ``2**-53``."""
        words = np.frombuffer(self.random_bytes(8 * count), dtype=np.uint64)
        return (words >> np.uint64(64 - _FRACTION_BITS)).astype(np.float64) * 2.0**-_FRACTION_BITS

    def bernoulli(self, probability: float, count: int) -> np.ndarray:
        """``count`` i.i.d. bits equal to 1 with probability exactly ``probability`` (0/1 ``uint8``).

        Lazy byte-wise comparison of a uniform fraction with the base-256 expansion of
        ``probability`` (module docstring).
        """
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"probability must be in [0, 1], got {probability}")
        if probability == 1.0:
            return np.ones(count, dtype=np.uint8)
        digits = _base256_digits(probability)
        out = np.zeros(count, dtype=np.uint8)
        if not digits:
            return out
        first = self._byte_array(count)
        np.less(first, digits[0], out=out, casting="unsafe")
        undecided = np.flatnonzero(first == digits[0])
        for digit in digits[1:]:
            if undecided.size == 0:
                break
            draws = self._byte_array(undecided.size)
            out[undecided[draws < digit]] = 1
            undecided = undecided[draws == digit]
        return out

    def integers(self, high: int, count: int) -> np.ndarray:
        """``count`` integers exactly uniform on ``{0, ..., high-1}``, in the narrowest unsigned
        dtype holding ``high - 1`` (``uint8`` for ``high <= 256``).

        Rejection sampling of ``w``-byte words below ``high * floor(256**w / high)``, reduced
        modulo ``high`` (module docstring): one word per position, and the positions whose word
        was rejected draw again until accepted. For one-byte words the reduction is a lookup in
        the 256-entry table of residues (faster than uint8 division).
        """
        if high < 1:
            raise ValueError(f"high must be >= 1, got {high}")
        width = next(w for w in (1, 2, 4, 8) if 256**w >= high)
        dtype = np.dtype(f"<u{width}")
        if high == 1 or count == 0:
            return np.zeros(count, dtype=dtype)
        limit = (256**width // high) * high

        def draw(size: int) -> tuple[np.ndarray, np.ndarray]:
            words = np.frombuffer(self.random_bytes(width * size), dtype=dtype)
            if width == 1:
                return words, np.take(_byte_residues(high), words)
            return words, words % dtype.type(high) if high < 256**width else words.copy()

        words, values = draw(count)
        rejected = np.flatnonzero(words >= limit) if limit < 256**width else np.zeros(0, np.intp)
        while rejected.size:
            words, values[rejected] = draw(rejected.size)
            rejected = rejected[words >= limit]
        return values


@lru_cache(maxsize=None)
def _byte_residues(high: int) -> np.ndarray:
    """``b mod high`` for every byte value ``b`` (``uint8``)."""
    return (np.arange(256) % high).astype(np.uint8)


def _base256_digits(probability: float) -> list[int]:
    """The base-256 digits of ``probability`` in [0, 1) (exact: a binary64 value is dyadic)."""
    fraction, digits = Fraction(probability), []
    while fraction:
        fraction *= 256
        digit = int(fraction)
        digits.append(digit)
        fraction -= digit
    return digits
