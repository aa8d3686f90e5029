"""Protocol randomness: the operating system's CSPRNG by default, a seeded mode for experiments.

Every random choice a protocol makes (test or key round, measurement settings, hash seeds)
draws from a :class:`Randomness`. The default reads ``os.urandom``; ``Randomness(seed=s)`` is a
reproducible PCG64 stream for experiments and tests, and every result built from it carries
``secure = False`` (the results say ``randomness: "seeded (not secure)"``).

Uniform reals are drawn as 53-bit dyadic fractions ``u = k / 2**53`` with ``k`` uniform on
``[0, 2**53)``, so a Bernoulli bit ``[u < p]`` is 1 with probability ``ceil(p 2**53) / 2**53``
(within ``2**-53`` of ``p``; the bits are exactly i.i.d.). Integers (measurement settings) are
exactly uniform, by rejection sampling.
"""

from __future__ import annotations

import os

import numpy as np

_FRACTION_BITS = 53
#: Domain separator mixed into seeded streams, so that a protocol seeded with ``s`` never
#: shares its stream with a device (or anything else) seeded with the same ``s``.
_PROTOCOL_STREAM = 0x7072_6F74  # "prot"


class Randomness:
    """A source of protocol randomness.

    Parameters
    ----------
    seed:
        ``None`` (default) reads the OS CSPRNG (``os.urandom``); an integer gives a reproducible
        stream that is **not secure** and is marked so in every result. The stream is seeded
        from ``SeedSequence([seed, tag])``: independent of a device's ``default_rng(seed)``,
        whose outcomes would otherwise be correlated with the protocol's choices.
    """

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed
        self._generator = (
            None
            if seed is None
            else np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, _PROTOCOL_STREAM])))
        )

    @property
    def secure(self) -> bool:
        """True when the bits come from the OS CSPRNG."""
        return self._generator is None

    @property
    def label(self) -> str:
        return "os" if self.secure else "seeded (not secure)"

    def random_bytes(self, count: int) -> bytes:
        """``count`` uniformly random bytes."""
        if count < 0:
            raise ValueError(f"count must be >= 0, got {count}")
        if self._generator is None:
            return os.urandom(count)
        return self._generator.bytes(count)

    def bits(self, count: int) -> np.ndarray:
        """``count`` uniform bits as a 0/1 ``uint8`` array."""
        raw = np.frombuffer(self.random_bytes((count + 7) // 8), dtype=np.uint8)
        return np.unpackbits(raw, count=count)

    def uniform(self, count: int) -> np.ndarray:
        """``count`` uniform reals in [0, 1), each a multiple of ``2**-53``."""
        words = np.frombuffer(self.random_bytes(8 * count), dtype=np.uint64)
        return (words >> np.uint64(64 - _FRACTION_BITS)).astype(np.float64) * 2.0**-_FRACTION_BITS

    def bernoulli(self, probability: float, count: int) -> np.ndarray:
        """``count`` i.i.d. bits equal to 1 with probability ``probability`` (0/1 ``uint8``)."""
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"probability must be in [0, 1], got {probability}")
        return (self.uniform(count) < probability).astype(np.uint8)

    def integers(self, high: int, count: int) -> np.ndarray:
        """``count`` integers exactly uniform on ``{0, ..., high-1}`` (``int64``).

        Rejection sampling: the top ``b = bit_length(high - 1)`` bits of a random 64-bit word
        are kept when below ``high`` (probability above 1/2) and redrawn otherwise.
        """
        if high < 1:
            raise ValueError(f"high must be >= 1, got {high}")
        out = np.zeros(count, dtype=np.int64)
        bits = (high - 1).bit_length()
        filled = 0
        while bits and filled < count:
            needed = count - filled
            draws = needed * 2 + 64  # at least twice the expected number of draws
            words = np.frombuffer(self.random_bytes(8 * draws), dtype=np.uint64) >> np.uint64(64 - bits)
            accepted = words[words < high][:needed]
            out[filled : filled + accepted.size] = accepted
            filled += accepted.size
        return out
