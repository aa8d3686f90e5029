"""Protocol randomness: OS CSPRNG by default, seeded mode reproducible and marked not secure."""

from __future__ import annotations

import numpy as np
import pytest

from qdevices import Randomness


def test_default_is_secure_and_seeded_is_not() -> None:
    assert Randomness().secure and Randomness().label == "os"
    seeded = Randomness(seed=5)
    assert not seeded.secure and "not secure" in seeded.label


def test_seeded_streams_reproduce() -> None:
    assert np.array_equal(Randomness(1).bits(1000), Randomness(1).bits(1000))
    assert not np.array_equal(Randomness().bits(1000), Randomness().bits(1000))


@pytest.mark.parametrize("source", [Randomness(), Randomness(seed=9)], ids=["os", "seeded"])
def test_distributions(source: Randomness) -> None:
    n = 200_000
    bits = source.bits(n)
    assert set(np.unique(bits)) <= {0, 1} and abs(bits.mean() - 0.5) < 5 * np.sqrt(0.25 / n)
    p = 0.887
    ones = source.bernoulli(p, n)
    assert abs(ones.mean() - p) < 5 * np.sqrt(p * (1 - p) / n)
    values = source.integers(7, n)
    assert values.min() == 0 and values.max() == 6
    counts = np.bincount(values, minlength=7)
    assert np.all(np.abs(counts / n - 1 / 7) < 5 * np.sqrt((1 / 7) * (6 / 7) / n))
    u = source.uniform(n)
    assert u.min() >= 0 and u.max() < 1


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="probability"):
        Randomness().bernoulli(1.2, 3)
    with pytest.raises(ValueError, match="high"):
        Randomness().integers(0, 3)


def test_seeded_protocol_stream_is_not_the_device_stream() -> None:
    """A device seeded like the protocol must not replay the protocol's draws (regression:
    identical streams correlated outcomes with settings and biased W-bar by 20 sigma)."""
    seed, n = 1, 1000
    protocol = Randomness(seed).uniform(n)
    device = np.random.default_rng(seed).random(n)
    assert not np.allclose(protocol, device)
    assert abs(np.corrcoef(protocol, device)[0, 1]) < 5 / np.sqrt(n)


class _ScriptedBytes(Randomness):
    """Randomness whose byte stream is given: each call returns the next prepared buffer."""

    def __init__(self, buffers: list[bytes]) -> None:
        super().__init__(seed=0)
        self._buffers = list(buffers)

    def random_bytes(self, count: int) -> bytes:
        data = self._buffers.pop(0)
        assert len(data) == count, (len(data), count)
        return data


def test_bernoulli_is_exact_over_every_two_byte_prefix() -> None:
    """p = (227 * 256 + 9) / 2^16 has two base-256 digits. Feed the 2^16 rounds every first byte
    256 times; the 256 rounds tying on the first digit get every second byte once. Exactly
    227 * 256 + 9 rounds must give 1 (U < p), i.e. P(1) = p exactly, not within 2^-53."""
    p = (227 * 256 + 9) / 2**16
    first = np.repeat(np.arange(256, dtype=np.uint8), 256).tobytes()
    second = np.arange(256, dtype=np.uint8).tobytes()
    bits = _ScriptedBytes([first, second]).bernoulli(p, 2**16)
    assert int(bits.sum()) == 227 * 256 + 9


class _EveryByte(Randomness):
    """Randomness whose stream is 0, 1, ..., 255, 0, 1, ... (every byte value in turn)."""

    def __init__(self) -> None:
        super().__init__(seed=0)

    def random_bytes(self, count: int) -> bytes:
        return (bytes(range(256)) * (count // 256 + 1))[:count]


def test_integers_reject_the_incomplete_block_and_are_exactly_uniform() -> None:
    """Every byte once: the 252 bytes below 7 * 36 are kept (4 rejected), each value 36 times."""
    values = _EveryByte().integers(7, 252)
    assert np.array_equal(np.bincount(values, minlength=7), np.full(7, 36))


@pytest.mark.parametrize("source", [Randomness(), Randomness(seed=3)], ids=["os", "seeded"])
def test_settings_pass_a_chi_square_test(source: Randomness) -> None:
    """Pearson's chi-square over the 7 values of 700,000 settings; the threshold is the 1 - 1e-9
    quantile of chi^2 with 6 degrees of freedom (a correct sampler fails with probability 1e-9;
    the seeded case is deterministic)."""
    from scipy.stats import chi2

    n = 700_000
    counts = np.bincount(source.integers(7, n), minlength=7)
    statistic = float(((counts - n / 7) ** 2 / (n / 7)).sum())
    assert statistic < chi2.isf(1e-9, 6)


def test_os_mode_is_a_rekeyed_chacha20_stream(monkeypatch) -> None:
    """With a key change every 64 bytes, no 64-byte block repeats (a reused key and nonce would
    repeat the keystream), and the bytes are balanced within 5 sigma."""
    import qdevices.randomness as randomness

    monkeypatch.setattr(randomness, "REKEY_BYTES", 64)
    source = Randomness()
    assert source.secure and source.label == "os"
    data = source.random_bytes(64 * 500)
    blocks = {data[k:k + 64] for k in range(0, len(data), 64)}
    assert len(blocks) == 500
    bits = np.unpackbits(np.frombuffer(data, np.uint8))
    assert abs(bits.mean() - 0.5) < 5 * np.sqrt(0.25 / bits.size)


def test_seeded_bytes_are_one_stream_whatever_the_request_sizes() -> None:
    whole = Randomness(seed=11).random_bytes(1000)
    pieces = Randomness(seed=11)
    assert b"".join(pieces.random_bytes(k) for k in (1, 7, 8, 9, 3, 972)) == whole
    assert Randomness(seed=12).random_bytes(1000) != whole


def test_integers_redraws_exactly_the_rejected_positions(monkeypatch) -> None:
    """high = 3 accepts bytes below 255: position 0 is rejected twice, position 2 once."""
    randomness = Randomness(seed=0)
    calls = iter([bytes([255, 4, 255]), bytes([255, 6]), bytes([11])])
    monkeypatch.setattr(randomness, "random_bytes", lambda count: next(calls))
    assert randomness.integers(3, 3).tolist() == [11 % 3, 4 % 3, 6 % 3]
