"""Tests of the Santha-Vazirani sources (paper 004, eq. (1)).

Statistical tests use fixed seeds; tolerances are 5 standard deviations of a binomial
frequency, sqrt(p (1 - p) / N).
"""

from __future__ import annotations

import numpy as np
import pytest

from qdevices.randomness import Randomness
from qdevices.sources import (NAMED_STRATEGIES, FileSource, HistorySource, IIDSource,
                              SourceExhaustedError, named_source, probability_threshold)

N = 400_000


def _five_sigma(p: float, count: int) -> float:
    return 5 * np.sqrt(p * (1 - p) / count)


@pytest.mark.parametrize("eps", [-0.01, 0.5, 0.7, float("nan")])
def test_eps_outside_range_names_parameter(eps: float) -> None:
    with pytest.raises(ValueError, match="eps"):
        IIDSource(eps)


def test_threshold_never_exceeds_eps() -> None:
    for eps in (0.0, 1e-6, 0.01, 0.123456, 0.49):
        assert 0.5 - eps <= probability_threshold(0.5 + eps, eps) / 2**16 <= 0.5 + eps
        assert 0.5 - eps <= probability_threshold(0.5 - eps, eps) / 2**16 <= 0.5 + eps
    with pytest.raises(ValueError, match="probability"):
        probability_threshold(0.6, 0.05)


def test_iid_frequency() -> None:
    source = IIDSource(0.1, randomness=Randomness(seed=1))
    p = source.probability_of_one
    assert abs(p - 0.6) <= 2**-16
    assert abs(source.bits(N).mean() - p) < _five_sigma(p, N)


def test_sticky_repeats_with_probability_half_plus_eps() -> None:
    eps = 0.2
    bits = named_source("sticky", eps, Randomness(seed=2)).bits(N)
    repeats = np.mean(bits[1:] == bits[:-1])
    assert abs(repeats - (0.5 + eps)) < _five_sigma(0.5 + eps, N) + 2**-16


def test_every_strategy_respects_the_sv_condition_on_short_histories() -> None:
    """Empirical P(1 | last 4 bits, position mod 4) stays within [1/2 - eps, 1/2 + eps]."""
    eps = 0.15
    for name in NAMED_STRATEGIES:
        bits = named_source(name, eps, Randomness(seed=3)).bits(N).astype(np.int64)
        context = (bits[:-4] << 3 | bits[1:-3] << 2 | bits[2:-2] << 1 | bits[3:-1]) * 4 + (
            np.arange(4, N) % 4)
        ones = np.bincount(context, weights=bits[4:], minlength=64)
        seen = np.bincount(context, minlength=64)
        for k in np.nonzero(seen > 1000)[0]:
            freq = ones[k] / seen[k]
            tol = _five_sigma(0.5, seen[k])
            assert 0.5 - eps - tol <= freq <= 0.5 + eps + tol, (name, k, freq)


def test_steer_untested_lowers_tested_settings_to_half_minus_eps() -> None:
    # Bits 1-3 free; the 4th bit makes the weight even with probability 1/2 + eps, and the
    # tested settings (U0, U1) are exactly the odd-weight ones: P(tested) = 1/2 - eps.
    eps = 0.2
    settings = named_source("steer-untested", eps, Randomness(seed=4)).settings(N // 4)
    odd = np.mean(settings.sum(axis=1) % 2)
    assert abs(odd - (0.5 - eps)) < _five_sigma(0.5 - eps, N // 4) + 2**-16


def test_all_sixteen_settings_occur_for_every_strategy() -> None:
    for name in NAMED_STRATEGIES:
        settings = named_source(name, 0.4, Randomness(seed=5)).settings(20_000)
        index = settings.astype(int) @ np.array([8, 4, 2, 1])
        assert np.unique(index).size == 16, name


def test_history_source_continues_its_stream_across_calls() -> None:
    table = np.array([[0.3, 0.7]])
    whole = HistorySource(0.2, table, randomness=Randomness(seed=6)).bits(1000)
    source = HistorySource(0.2, table, randomness=Randomness(seed=6))
    # Odd counts too: a seeded Randomness is one continuous byte stream across calls.
    parts = np.concatenate([source.bits(3), source.bits(497), source.bits(500)])
    assert np.array_equal(whole, parts)


def test_history_table_outside_eps_is_rejected() -> None:
    with pytest.raises(ValueError, match="probability"):
        HistorySource(0.1, np.array([[0.5, 0.7]]))


def test_file_source_binary_and_ascii(tmp_path) -> None:
    binary = tmp_path / "bits.bin"
    binary.write_bytes(bytes([0b10110000, 0xFF]))
    source = FileSource(binary, 0.05)
    assert source.bits(3).tolist() == [1, 0, 1]
    assert source.bits(6).tolist() == [1, 0, 0, 0, 0, 1]
    with pytest.raises(SourceExhaustedError, match="7 bits left"):
        source.bits(8)
    text = tmp_path / "bits.txt"
    text.write_text("0110\n1 0\n")
    assert FileSource(text, 0.0, fmt="ascii").settings(1).tolist() == [[0, 1, 1, 0]]
    text.write_text("0120")
    with pytest.raises(ValueError, match="characters"):
        FileSource(text, 0.0, fmt="ascii").bits(4)
