"""Santha-Vazirani (SV) sources of weakly random bits (paper 004, eq. (1)).

An eps-SV source emits bits ``a_1, a_2, ...`` with ``1/2 - eps <= P(a_i = 1 | a_1..a_{i-1}) <=
1/2 + eps`` for every ``i`` and every history. The adversary chooses the conditional bias; the
protocols may only assume the inequality. Three kinds of source are provided:

* :class:`IIDSource` - every bit is 1 with a fixed probability ``1/2 + bias``, ``|bias| <= eps``.
* :class:`HistorySource` - the probability of each bit is a table lookup on (position modulo a
  period, the last ``window`` bits), every entry in ``[1/2 - eps, 1/2 + eps]``. Named strategies
  (:func:`named_source`) include ones that steer the four-party measurement settings away from
  the settings the Bell inequality tests.
* :class:`FileSource` - bits read from a file (raw binary or ASCII 0/1), with the user's claimed
  eps, which nothing here can verify.

Simulated sources turn 16-bit uniform words ``w`` from :class:`qdevices.randomness.Randomness`
into bits ``[w < T]`` with ``T`` an integer threshold. ``T / 2**16`` is the exact probability of a
1; it is the requested probability rounded *towards 1/2*, so a simulated source never exceeds its
eps (it may be up to ``2**-16`` less biased than requested).

The four settings of a run of Protocol I are the next 4 bits of the source (all 16 settings
have probability at least ``(1/2 - eps)**4``, paper 004, eq. (39)).
"""

from __future__ import annotations

import abc
from pathlib import Path

import numba
import numpy as np

from qdevices.randomness import Randomness

_WORD_BITS = 16
_WORD_RANGE = 2**_WORD_BITS
SETTING_BITS_PER_RUN = 4


class SourceInputError(ValueError):
    """Bad parameter for an SV source."""


class SourceExhaustedError(SourceInputError):
    """A file-backed source has fewer bits left than were requested."""


def check_sv_eps(eps: float) -> float:
    """Validate the SV parameter: ``0 <= eps < 1/2`` (paper 004, eq. (1))."""
    if not (np.isfinite(eps) and 0.0 <= eps < 0.5):
        raise SourceInputError(f"eps must be in [0, 1/2), got {eps}")
    return float(eps)


def _check_count(count: int) -> int:
    if int(count) != count or count < 0:
        raise SourceInputError(f"count must be an integer >= 0, got {count}")
    return int(count)


def probability_threshold(probability: float, eps: float) -> int:
    """Integer threshold ``T`` with ``T / 2**16`` the probability rounded towards 1/2.

    Raises when ``probability`` lies outside ``[1/2 - eps, 1/2 + eps]``.
    """
    if not (0.5 - eps - 1e-15 <= probability <= 0.5 + eps + 1e-15):
        raise SourceInputError(f"bit probability must be in [1/2 - eps, 1/2 + eps] = "
                               f"[{0.5 - eps}, {0.5 + eps}], got {probability}")
    scaled = probability * _WORD_RANGE
    return int(np.floor(scaled)) if probability >= 0.5 else int(np.ceil(scaled))


class SVSource(abc.ABC):
    """An eps-SV source: a stateful stream of bits (successive calls continue the stream)."""

    eps: float

    @property
    @abc.abstractmethod
    def name(self) -> str:
        """Short description of the strategy."""

    @property
    def secure(self) -> bool:
        """True when the underlying randomness is not a reproducible seeded stream."""
        return False

    @abc.abstractmethod
    def bits(self, count: int) -> np.ndarray:
        """The next ``count`` bits of the source as a 0/1 ``uint8`` array."""

    def settings(self, runs: int) -> np.ndarray:
        """Settings ``u = (u_1..u_4)`` for ``runs`` runs from the next ``4 runs`` bits, (runs, 4)."""
        runs = _check_count(runs)
        return self.bits(SETTING_BITS_PER_RUN * runs).reshape(runs, SETTING_BITS_PER_RUN)


class _SimulatedSource(SVSource):
    def __init__(self, eps: float, randomness: Randomness | None) -> None:
        self.eps = check_sv_eps(eps)
        self.randomness = randomness if randomness is not None else Randomness()

    @property
    def secure(self) -> bool:
        return self.randomness.secure

    def _words(self, count: int) -> np.ndarray:
        return np.frombuffer(self.randomness.random_bytes(2 * count), dtype=np.uint16)


class IIDSource(_SimulatedSource):
    """Each bit independently 1 with probability ``1/2 + bias`` (``|bias| <= eps``)."""

    def __init__(self, eps: float, bias: float | None = None,
                 randomness: Randomness | None = None) -> None:
        super().__init__(eps, randomness)
        self.bias = self.eps if bias is None else float(bias)
        self._threshold = probability_threshold(0.5 + self.bias, self.eps)

    @property
    def name(self) -> str:
        return f"iid(bias={self.bias:+g})"

    @property
    def probability_of_one(self) -> float:
        """The exact probability of a 1 (after rounding towards 1/2)."""
        return self._threshold / _WORD_RANGE

    def bits(self, count: int) -> np.ndarray:
        count = _check_count(count)
        return (self._words(count) < self._threshold).astype(np.uint8)


@numba.njit(cache=True)
def _history_bits(words, thresholds, period, window, position, history):  # pragma: no cover
    """Sequential sampling: bit i is ``words[i] < thresholds[(position + i) % period, state]``.

    ``state`` holds the last ``window`` bits (most recent in the least significant place).
    """
    out = np.empty(words.size, dtype=np.uint8)
    mask = (1 << window) - 1
    for i in range(words.size):
        bit = 1 if words[i] < thresholds[(position + i) % period, history] else 0
        out[i] = bit
        history = ((history << 1) | bit) & mask
    return out, history


class HistorySource(_SimulatedSource):
    """A history-dependent adversarial SV source with a finite-memory strategy.

    ``probabilities[k, h]`` is the probability that bit ``i`` is 1 when ``i mod period = k``
    (``period = probabilities.shape[0]``) and the previous ``window`` bits, read as a binary
    number with the most recent bit least significant, equal ``h``
    (``probabilities.shape[1] = 2**window``). Bits before the start count as 0. Every entry must
    lie in ``[1/2 - eps, 1/2 + eps]``.
    """

    def __init__(self, eps: float, probabilities: np.ndarray, label: str = "history",
                 randomness: Randomness | None = None) -> None:
        super().__init__(eps, randomness)
        table = np.atleast_2d(np.asarray(probabilities, dtype=np.float64))
        window = int(np.log2(table.shape[1]))
        if table.ndim != 2 or 2**window != table.shape[1] or window > 20:
            raise SourceInputError(f"probabilities must have shape (period, 2**window) with "
                                   f"window <= 20, got {table.shape}")
        self.probabilities = table
        self.window = window
        self.period = table.shape[0]
        self._thresholds = np.vectorize(lambda p: probability_threshold(p, self.eps))(
            table).astype(np.int64)
        self._label = label
        self._position = 0
        self._history = 0

    @property
    def name(self) -> str:
        return self._label

    def bits(self, count: int) -> np.ndarray:
        count = _check_count(count)
        out, self._history = _history_bits(self._words(count), self._thresholds, self.period,
                                           self.window, self._position, self._history)
        self._position = (self._position + count) % self.period
        return out


def _steer_untested_table(eps: float) -> np.ndarray:
    """Period-4 strategy pushing the fourth setting bit to make the setting weight even.

    Settings of even Hamming weight lie outside U0 and U1 (paper 004, eq. (4)), so the Bell
    test sees fewer tested settings. Bits 1-3 of each run are 1 with probability 1/2 + eps.
    """
    table = np.full((SETTING_BITS_PER_RUN, 8), 0.5 + eps)
    previous_three_parity = np.array([bin(h).count("1") & 1 for h in range(8)])
    table[3] = np.where(previous_three_parity == 1, 0.5 + eps, 0.5 - eps)
    return table


def _sticky_table(eps: float) -> np.ndarray:
    """Repeat the previous bit with probability 1/2 + eps."""
    return np.array([[0.5 - eps, 0.5 + eps]])


def _steer_zero_table(eps: float) -> np.ndarray:
    """Push every bit of a run towards the previous run's same bit (settings repeat)."""
    table = np.empty((SETTING_BITS_PER_RUN, 16))
    for h in range(16):
        same_bit_previous_run = (h >> 3) & 1
        table[:, h] = 0.5 + eps if same_bit_previous_run else 0.5 - eps
    return table


NAMED_STRATEGIES = ("uniform", "iid-high", "iid-low", "sticky", "steer-untested",
                    "steer-repeat")


def named_source(name: str, eps: float, randomness: Randomness | None = None) -> SVSource:
    """A simulated eps-SV source by strategy name (one of :data:`NAMED_STRATEGIES`)."""
    eps = check_sv_eps(eps)
    if name == "uniform":
        return IIDSource(eps, bias=0.0, randomness=randomness)
    if name == "iid-high":
        return IIDSource(eps, bias=eps, randomness=randomness)
    if name == "iid-low":
        return IIDSource(eps, bias=-eps, randomness=randomness)
    if name == "sticky":
        return HistorySource(eps, _sticky_table(eps), name, randomness)
    if name == "steer-untested":
        return HistorySource(eps, _steer_untested_table(eps), name, randomness)
    if name == "steer-repeat":
        return HistorySource(eps, _steer_zero_table(eps), name, randomness)
    raise SourceInputError(f"strategy must be one of {', '.join(NAMED_STRATEGIES)}, got {name!r}")


class FileSource(SVSource):
    """Bits read from a file: ``fmt="binary"`` (8 bits a byte, most significant first) or
    ``fmt="ascii"`` (characters '0'/'1'; whitespace ignored). ``eps`` is the user's claim.
    """

    def __init__(self, path: str | Path, eps: float, fmt: str = "binary") -> None:
        self.eps = check_sv_eps(eps)
        self.path = Path(path)
        if fmt not in ("binary", "ascii"):
            raise SourceInputError(f"fmt must be 'binary' or 'ascii', got {fmt!r}")
        if not self.path.is_file():
            raise SourceInputError(f"path must be a readable file, got {str(self.path)!r}")
        self.fmt = fmt
        self._handle = self.path.open("rb")
        self._pending = np.zeros(0, dtype=np.uint8)

    @property
    def name(self) -> str:
        return f"file({self.path.name}, {self.fmt}, claimed eps={self.eps:g})"

    @property
    def secure(self) -> bool:
        return True

    def _decode(self, raw: bytes) -> np.ndarray:
        data = np.frombuffer(raw, dtype=np.uint8)
        if self.fmt == "binary":
            return np.unpackbits(data)
        data = data[~np.isin(data, np.frombuffer(b" \t\r\n", dtype=np.uint8))]
        if np.any((data != ord("0")) & (data != ord("1"))):
            raise SourceInputError(f"file {str(self.path)!r} contains characters other than "
                                   "'0', '1' and whitespace")
        return (data - ord("0")).astype(np.uint8)

    def bits(self, count: int) -> np.ndarray:
        count = _check_count(count)
        chunks = [self._pending]
        have = self._pending.size
        while have < count:
            raw = self._handle.read(max((count - have + 7) // 8 if self.fmt == "binary"
                                        else count - have, 1 << 16))
            if not raw:
                raise SourceExhaustedError(f"file {str(self.path)!r} has {have} bits left, "
                                           f"{count} requested")
            decoded = self._decode(raw)
            chunks.append(decoded)
            have += decoded.size
        stream = np.concatenate(chunks)
        self._pending = stream[count:]
        return stream[:count]

    def close(self) -> None:
        self._handle.close()
