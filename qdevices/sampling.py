"""Vectorised sampling of outcome codes from a per-setting probability table.

Walker's alias method, one table per setting: each of the ``K`` outcomes of setting ``s`` owns
a column ``j`` holding a cut ``q[s, j]`` and an alias ``r[s, j]``, built (Vose's construction)
so that ``P(k) = (1/K) sum_j ( q[s,j] [j = k] + (1 - q[s,j]) [r[s,j] = k] )`` exactly. A round
with uniform ``u`` takes column ``j = floor(K u)`` and outcome ``j`` if ``K u - j < q[s, j]``,
else ``r[s, j]``: two table lookups and one comparison per round, whatever ``K`` is, so
emulation is limited by memory bandwidth rather than by the number of outcomes.

Integer form. ``K = 2**b`` (a table with fewer outcomes is padded with zero-probability
columns; outcome tables have ``2**parties`` columns, so none is padded in practice) and ``u`` is
the float of ``numpy.random.Generator.random``: ``u = (w >> 11) / 2**53`` for the generator's
next 64-bit word ``w``, which is what ``Generator.integers(0, 2**64, dtype=uint64)`` returns
(true of numpy's PCG64, the default, and of PCG64DXSM, Philox and SFC64; MT19937 builds its
floats from two 32-bit outputs, so with it the codes are equally distributed but are not those
of ``rng.random``). Then ``j = w >> (64 - b)`` (the top
``b`` bits) and ``K u - j = F / 2**(53 - b)`` with ``F`` the next ``53 - b`` bits of ``w``, so
``K u - j < q`` iff ``F < T = ceil(q 2**(53 - b))`` (``F`` is an integer; the product is exact, a
power-of-two scaling) iff ``v < T 2**(11 + b)`` with ``v = w << b mod 2**64`` (``F = v >> (11 + b)``).
A column with ``T = 2**(53 - b)`` always keeps its own outcome; its alias is set to itself so that
its threshold can be stored as ``(T - 1) 2**(11 + b) < 2**64``. Each round therefore costs one
64-bit word, a few shifts, one gathered threshold, one comparison and one gathered outcome
(alias or own column, chosen by the comparison bit without a branch), and gives the same outcome
as the float rule on the same ``u`` (bit for bit).
"""

from __future__ import annotations

import numpy as np

_FRACTION_BITS = 53  # bits of u in numpy's Generator.random
_WORD_BITS = 64
#: Rounds per block of :meth:`TableSampler.sample` (2^15: 256 KiB of 64-bit words, L2-resident).
BLOCK_ROUNDS = 2**15


def _alias_row(probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vose's alias table for one distribution over ``K`` outcomes."""
    k = probabilities.shape[0]
    scaled = probabilities * k
    cut = np.ones(k)
    alias = np.arange(k)
    small = [j for j in range(k) if scaled[j] < 1.0]
    large = [j for j in range(k) if scaled[j] >= 1.0]
    while small and large:
        low, high = small.pop(), large.pop()
        cut[low], alias[low] = scaled[low], high
        scaled[high] -= 1.0 - scaled[low]
        (small if scaled[high] < 1.0 else large).append(high)
    return cut, alias  # leftover columns (rounding) keep cut = 1, i.e. never alias


def narrowest_unsigned(largest: int) -> type:
    """The narrowest numpy unsigned integer type holding ``largest``."""
    return next(t for t in (np.uint8, np.uint16, np.uint32, np.uint64) if largest <= np.iinfo(t).max)


class TableSampler:
    """Draws outcome codes for rounds given their setting indices."""

    def __init__(self, table: np.ndarray) -> None:
        table = np.asarray(table, dtype=np.float64)
        if table.ndim != 2 or np.any(table < 0) or not np.allclose(table.sum(axis=1), 1.0):
            raise ValueError("table must be a (settings, outcomes) array of probability rows")
        self.table = table
        settings, outcomes = table.shape
        self._bits = max(1, (outcomes - 1).bit_length())  # K = 2**bits >= outcomes (module docstring)
        padded = np.zeros((settings, 1 << self._bits))
        padded[:, :outcomes] = table
        rows = [_alias_row(row / row.sum()) for row in padded]
        cut = np.concatenate([cut for cut, _ in rows])
        code_type = narrowest_unsigned((1 << self._bits) - 1)
        self._flat_type = narrowest_unsigned((settings << (self._bits + 1)) - 1)
        alias = np.concatenate([alias for _, alias in rows]).astype(code_type)
        column = np.tile(np.arange(1 << self._bits), settings).astype(code_type)
        fraction_bits = _FRACTION_BITS - self._bits
        steps = np.ceil(cut * 2.0**fraction_bits)  # T of the module docstring, exact
        always = steps >= 2.0**fraction_bits
        self._threshold = np.minimum(steps, 2.0**fraction_bits - 1).astype(np.uint64) << np.uint64(
            _WORD_BITS - fraction_bits
        )
        #: Entry ``2 f + keep`` of flat column ``f = s K + j``: the alias (keep = 0) or ``j`` (keep = 1).
        self._outcome = np.stack([np.where(always, column, alias), column], axis=1).ravel()

    def sample(self, setting_index: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One outcome code per round (``uint8`` up to 256 outcomes), rounds given by their setting
        index; the same codes as the float rule on ``rng.random(N)`` (module docstring).

        Rounds are processed in blocks of :data:`BLOCK_ROUNDS` so that the 64-bit temporaries stay
        in cache (the words are drawn in order, so blocking does not change the codes).
        """
        index = np.asarray(setting_index)
        settings = self.table.shape[0]
        if index.size and (index.max() >= settings or (index.dtype.kind == "i" and index.min() < 0)):
            raise ValueError(f"setting indices must be in [0, {settings - 1}]")
        codes = np.empty(index.shape[0], dtype=self._outcome.dtype)
        for start in range(0, index.shape[0], BLOCK_ROUNDS):
            block = slice(start, start + BLOCK_ROUNDS)
            codes[block] = self._sample_block(index[block], rng)
        return codes

    def _sample_block(self, index: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        bits, flat_type = self._bits, self._flat_type
        words = rng.integers(0, 2**64, index.shape[0], dtype=np.uint64)  # w, uniform 64-bit words
        flat = index.astype(flat_type) << flat_type(bits)  # s K + j, j = top b bits of w
        flat |= (words >> np.uint64(_WORD_BITS - bits)).astype(flat_type)
        words <<= np.uint64(bits)  # v = w << b mod 2**64
        keep = words < self._threshold[flat]
        flat <<= flat_type(1)
        flat |= keep
        return self._outcome[flat]
