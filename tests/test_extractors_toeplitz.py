"""Toeplitz hashing: exactness (galois matrices, exact integer convolution), two-universality,
leftover-hash calculator, bad input."""

from __future__ import annotations

import itertools
import math

import galois
import numpy as np
import pytest

from extractors import (
    ExtractorInputError,
    InsufficientEntropyError,
    toeplitz_hash,
    toeplitz_parameters,
    toeplitz_seed_length,
)
from extractors.gf2_correlation import correlate_fft, correlate_words
from extractors.bits import bits_to_words


def explicit_matrix(seed: np.ndarray, n: int, m: int) -> np.ndarray:
    """The documented convention T[i, j] = seed[i - j + n - 1], built entry by entry."""
    return np.array([[seed[i - j + n - 1] for j in range(n)] for i in range(m)], dtype=np.uint8)


SMALL_SIZES = [(1, 1), (2, 5), (5, 3), (63, 1), (64, 64), (65, 130), (128, 127), (200, 7),
               (100, 1600), (333, 2000), (1000, 999)]


@pytest.mark.parametrize(("n", "m"), SMALL_SIZES)
def test_matches_galois_matrix_product(n: int, m: int) -> None:
    rng = np.random.default_rng(n * 7919 + m)
    x = rng.integers(0, 2, n, dtype=np.uint8)
    seed = rng.integers(0, 2, n + m - 1, dtype=np.uint8)
    expected = np.asarray(galois.GF2(explicit_matrix(seed, n, m)) @ galois.GF2(x))
    np.testing.assert_array_equal(toeplitz_hash(x, seed, m), expected)


@pytest.mark.parametrize(("n", "m"), SMALL_SIZES)
def test_both_kernels_agree_with_galois(n: int, m: int) -> None:
    """The word kernel and the FFT path each reproduce the matrix product (whichever is chosen)."""
    rng = np.random.default_rng(n + 31 * m)
    x = rng.integers(0, 2, n, dtype=np.uint8)
    seed = rng.integers(0, 2, n + m - 1, dtype=np.uint8)
    expected = np.asarray(galois.GF2(explicit_matrix(seed, n, m)) @ galois.GF2(x))
    reversed_x = x[::-1].copy()
    np.testing.assert_array_equal(correlate_fft(reversed_x, seed, m), expected)
    np.testing.assert_array_equal(
        correlate_words(bits_to_words(reversed_x), bits_to_words(seed), m), expected
    )


@pytest.mark.parametrize(("n", "m"), [(2_000_003, 1_000_000), (3_000_000, 128), (1 << 21, 4097)])
def test_large_sizes_match_exact_integer_convolution_on_random_outputs(n: int, m: int) -> None:
    """Random output positions checked against sum_j seed[i - j + n - 1] x_j in int64."""
    rng = np.random.default_rng(20240601 + m)
    x = rng.integers(0, 2, n, dtype=np.uint8)
    seed = rng.integers(0, 2, n + m - 1, dtype=np.uint8)
    out = toeplitz_hash(x, seed, m)
    assert out.shape == (m,)
    x64 = x.astype(np.int64)
    for i in rng.choice(m, size=min(m, 24), replace=False):
        row = seed[i: i + n][::-1].astype(np.int64)  # T[i, j] = seed[i - j + n - 1]
        assert out[i] == int(row @ x64) % 2


def test_two_universal_exactly_on_all_seeds() -> None:
    """n = 5, m = 3: for every nonzero difference d, exactly 2^(n+m-1-m) of the 2^7 seeds give T d = 0."""
    n, m = 5, 3
    seeds = np.array(list(itertools.product((0, 1), repeat=n + m - 1)), dtype=np.uint8)
    for d in itertools.product((0, 1), repeat=n):
        if not any(d):
            continue
        zero_count = sum(not toeplitz_hash(np.array(d), s, m).any() for s in seeds)
        assert zero_count == 2 ** (n + m - 1) // 2**m


def test_collision_probability_of_random_distinct_inputs() -> None:
    """20000 random (x, x', seed), n = 40, m = 4: collision rate within 5 sigma of 2^-4 (seed 5)."""
    rng = np.random.default_rng(5)
    n, m, trials = 40, 4, 20_000
    collisions = 0
    for _ in range(trials):
        x = rng.integers(0, 2, n, dtype=np.uint8)
        other = x.copy()
        flips = rng.integers(0, 2, n, dtype=np.uint8)
        flips[rng.integers(n)] = 1
        other ^= flips
        seed = rng.integers(0, 2, n + m - 1, dtype=np.uint8)
        collisions += np.array_equal(toeplitz_hash(x, seed, m), toeplitz_hash(other, seed, m))
    p = 2.0**-m
    assert abs(collisions / trials - p) <= 5 * math.sqrt(p * (1 - p) / trials)


def test_leftover_hash_bound_holds_on_exact_distribution() -> None:
    """Flat source on 8 random 6-bit strings (k = 3), m = 2, all 2^7 seeds: exact distance of
    (seed, hash) from uniform is at most (1/2) 2^((m - k)/2)."""
    rng = np.random.default_rng(17)
    n, m, k = 6, 2, 3
    support = rng.choice(2**n, size=2**k, replace=False)
    inputs = [np.array([(v >> (n - 1 - t)) & 1 for t in range(n)], dtype=np.uint8) for v in support]
    seeds = list(itertools.product((0, 1), repeat=n + m - 1))
    distance = 0.0
    for s in seeds:
        counts = np.zeros(2**m)
        for x in inputs:
            out = toeplitz_hash(x, np.array(s, dtype=np.uint8), m)
            counts[out[0] * 2 + out[1]] += 1
        distance += 0.5 * np.abs(counts / len(inputs) - 2.0**-m).sum() / len(seeds)
    plan = toeplitz_parameters(n, k, 0.999, output_length=m)
    assert distance <= plan.error == pytest.approx(0.5 * 2 ** ((m - k) / 2))


def test_calculator_hand_values() -> None:
    # m = floor(k + 2 - 2 log2(1/eps)): k = 1000, eps = 2^-20 -> 962; k = 1000.5 -> 962.
    assert toeplitz_parameters(5000, 1000, 2.0**-20).output_length == 962
    assert toeplitz_parameters(5000, 1000.5, 2.0**-20).output_length == 962
    plan = toeplitz_parameters(5000, 1000, 2.0**-20, output_length=900)
    assert plan.log2_error == pytest.approx((900 - 1000) / 2 - 1)
    assert plan.seed_length == 5000 + 900 - 1


def test_calculator_refuses_and_says_what_would_do() -> None:
    with pytest.raises(InsufficientEntropyError, match=r"min_entropy >= 39"):
        toeplitz_parameters(5000, 30, 2.0**-20)
    with pytest.raises(InsufficientEntropyError, match=r"output_length <= 962"):
        toeplitz_parameters(5000, 1000, 2.0**-20, output_length=963)


def test_seed_length() -> None:
    assert toeplitz_seed_length(10, 4) == 13


@pytest.mark.parametrize(
    ("bits", "seed", "m", "match"),
    [
        (np.ones(10), np.ones(12), 4, r"seed must have n \+ output_length - 1 = 13"),
        (np.array([0, 1, 2]), np.ones(5), 3, r"bits must hold only the bit values 0 and 1"),
        (np.ones(10), np.full(13, 0.5), 4, r"seed must hold only the bit values"),
        (np.ones((2, 5)), np.ones(13), 4, r"bits must be a one-dimensional"),
        (np.ones(10), np.ones(9), 0, r"output_length must be an integer >= 1, got 0"),
        (np.ones(0), np.ones(3), 4, r"input length n must be an integer >= 1, got 0"),
    ],
)
def test_bad_input(bits, seed, m, match) -> None:
    with pytest.raises(ExtractorInputError, match=match):
        toeplitz_hash(bits, seed, m)
