"""Two-source extractors: definitions, exact output distributions vs. the bounds, calculators."""

from __future__ import annotations

import itertools
import math

import galois
import numpy as np
import pytest

from extractors import (
    ExtractorInputError,
    InsufficientEntropyError,
    cyclic_shift_extract,
    cyclic_shift_parameters,
    extract_two_source,
    inner_product_extract,
    inner_product_parameters,
)
from extractors.primes import has_primitive_root_two, next_cyclic_length

# OEIS A001122: primes with primitive root 2.
A001122 = [3, 5, 11, 13, 19, 29, 37, 53, 59, 61, 67, 83, 101, 107, 131, 139, 149, 163, 173,
           179, 181, 197, 211, 227, 269, 293, 317, 347, 349, 373, 379, 389, 419, 421, 443, 461,
           467, 491, 509, 523, 541, 547, 557, 563, 587, 613, 619, 653, 659, 661, 677, 701, 709,
           757, 773, 787, 797, 821, 827, 829, 853, 859, 877, 883, 907, 941, 947]


def test_primitive_root_two_lengths_match_oeis() -> None:
    assert [p for p in range(950) if has_primitive_root_two(p)] == A001122


def test_cyclic_shift_matches_definition_and_matrix_form() -> None:
    rng = np.random.default_rng(2)
    for n, m in [(3, 2), (13, 12), (131, 70), (1019, 1018)]:
        x = rng.integers(0, 2, n, dtype=np.uint8)
        y = rng.integers(0, 2, n, dtype=np.uint8)
        direct = [sum(int(x[k]) * int(y[(k + i) % n]) for k in range(n)) % 2 for i in range(m)]
        shifts = galois.GF2(np.array([np.roll(y, -i) for i in range(m)]))
        np.testing.assert_array_equal(cyclic_shift_extract(x, y, m), direct)
        np.testing.assert_array_equal(cyclic_shift_extract(x, y, m), np.asarray(shifts @ galois.GF2(x)))


def test_cyclic_shift_rank_property_on_small_n() -> None:
    """n = 11: every nonempty sum of distinct shifts among 10 has GF(2) rank >= n - 1 = 10."""
    n = 11
    eye = np.eye(n, dtype=np.uint8)
    shifts = [galois.GF2(np.roll(eye, i, axis=1)) for i in range(n - 1)]
    for size in range(1, n):
        for subset in itertools.combinations(range(n - 1), size):
            total = sum((shifts[i] for i in subset[1:]), shifts[subset[0]])
            assert np.linalg.matrix_rank(total) >= n - 1


def all_bits(values: np.ndarray, n: int) -> np.ndarray:
    return ((values[:, None] >> np.arange(n - 1, -1, -1)) & 1).astype(np.uint8)


def distance_from_outputs(outputs: np.ndarray) -> float:
    """Statistical distance from uniform of the equally weighted rows of ``outputs`` (bits)."""
    m = outputs.shape[1]
    codes = outputs.astype(np.int64) @ (1 << np.arange(m - 1, -1, -1))
    counts = np.bincount(codes, minlength=2**m)
    return 0.5 * float(np.abs(counts / counts.sum() - 2.0**-m).sum())


def cyclic_outputs_all_pairs(xs: np.ndarray, ys: np.ndarray, m: int) -> np.ndarray:
    """z_i = x . roll(y, -i) mod 2 for every pair, by integer matrix products (reference)."""
    columns = [(xs.astype(np.int64) @ np.roll(ys, -i, axis=1).T.astype(np.int64)) % 2
               for i in range(m)]
    return np.stack(columns, axis=-1).reshape(-1, m)


def spot_check(extract, xs, ys, reference, rng, pairs=150) -> None:
    """The extractor under test reproduces the reference on random pairs."""
    for _ in range(pairs):
        a, b = rng.integers(len(xs)), rng.integers(len(ys))
        np.testing.assert_array_equal(extract(xs[a], ys[b]), reference[a * len(ys) + b])


@pytest.mark.parametrize(("k1", "k2", "m"), [(7, 7, 1), (8, 8, 2), (9, 8, 3)])
def test_cyclic_shift_exact_distance_within_classical_bound(k1: int, k2: int, m: int) -> None:
    """Flat sources on random subsets of {0,1}^11 (seed 3): exact distance <= the bound."""
    n = 11
    rng = np.random.default_rng(3 + k1 + m)
    xs = all_bits(rng.choice(2**n, size=2**k1, replace=False), n)
    ys = all_bits(rng.choice(2**n, size=2**k2, replace=False), n)
    outputs = cyclic_outputs_all_pairs(xs, ys, m)
    spot_check(lambda x, y: cyclic_shift_extract(x, y, m), xs, ys, outputs, rng)
    bound = 2.0 ** ((m + n + 1 - k1 - k2) / 2 - 1)  # Dodis et al. with r = 1, derived by hand
    plan = cyclic_shift_parameters(n, k1, n, k2, 0.999, output_length=m)
    assert plan.error == pytest.approx(bound)
    assert distance_from_outputs(outputs) <= bound


def test_inner_product_exact_distance_within_bound() -> None:
    """GF(2^4)^3, n = 12, flat sources with k = 9, m = 3 (seed 4)."""
    n, k, m, degree = 12, 9, 3, 4
    rng = np.random.default_rng(4)
    xs = all_bits(rng.choice(2**n, size=2**k, replace=False), n)
    ys = all_bits(rng.choice(2**n, size=2**k, replace=False), n)
    field = galois.GF(2**degree, irreducible_poly=galois.irreducible_poly(2, degree, method="min"))
    weights = 1 << np.arange(degree - 1, -1, -1)
    fx = field(xs.reshape(len(xs), -1, degree) @ weights)
    fy = field(ys.reshape(len(ys), -1, degree) @ weights)
    sums = np.bitwise_xor.reduce(np.asarray(fx[:, None, :] * fy[None, :, :]), axis=-1).reshape(-1)
    outputs = all_bits(sums, degree)[:, :m]
    spot_check(lambda x, y: inner_product_extract(x, y, m, degree), xs, ys, outputs, rng)
    bound = 2.0 ** ((m + n - 2 * k) / 2 - 1)
    assert inner_product_parameters(n, k, n, k, 0.999, output_length=m,
                                    field_degree=degree).error == pytest.approx(bound)
    assert distance_from_outputs(outputs) <= bound


def clmul_mod(a: int, b: int, modulus: int, degree: int) -> int:
    """Carry-less product of two field elements reduced by the modulus (independent of galois)."""
    product = 0
    for t in range(degree):
        if (b >> t) & 1:
            product ^= a << t
    for t in range(2 * degree - 2, degree - 1, -1):
        if (product >> t) & 1:
            product ^= modulus << (t - degree)
    return product


@pytest.mark.parametrize("degree", [3, 8, 64, 100])
def test_inner_product_matches_hand_field_arithmetic(degree: int) -> None:
    rng = np.random.default_rng(degree)
    blocks = 5
    x = rng.integers(0, 2, degree * blocks, dtype=np.uint8)
    y = rng.integers(0, 2, degree * blocks, dtype=np.uint8)
    modulus = int(galois.irreducible_poly(2, degree, method="min"))
    total = 0
    for j in range(blocks):
        a = int("".join(map(str, x[j * degree:(j + 1) * degree])), 2)
        b = int("".join(map(str, y[j * degree:(j + 1) * degree])), 2)
        total ^= clmul_mod(a, b, modulus, degree)
    m = min(degree, 40)
    expected = [(total >> (degree - 1 - t)) & 1 for t in range(m)]
    np.testing.assert_array_equal(inner_product_extract(x, y, m, degree), expected)


def test_cyclic_shift_calculator_hand_values() -> None:
    # n1 = n2 = 1000 -> padded n = 1019; k1 + k2 = 1700, eps = 2^-20.
    # classical: m = floor(1700 - 1019 - 1 + 2 - 40) = 642.
    plan = cyclic_shift_parameters(1000, 800, 1000, 900, 2.0**-20)
    assert (plan.input_length, plan.output_length) == (1019, 642)
    assert plan.log2_error <= -20
    # Markov model: 5 m <= 1700 - 1020 + 10 - 160 - 4 log2 3 = 523.66 -> m = 104.
    quantum = cyclic_shift_parameters(1000, 800, 1000, 900, 2.0**-20, quantum_proof=True)
    assert quantum.output_length == 104
    assert quantum.log2_error <= -20


def test_markov_bound_is_the_afps_conversion_of_the_classical_bound() -> None:
    """eps_q = sqrt(3 eps_c 2^(m-2)) with eps_c = 2^-t meeting the classical bound at k_i - t."""
    n, k1, k2, m, r = 1019, 800.0, 900.0, 104, 1
    t = (k1 + k2 - m - n - r + 2) / 4
    classical_at_reduced = (m + n + r - (k1 - t) - (k2 - t)) / 2 - 1
    assert classical_at_reduced == pytest.approx(-t)
    eps_q = math.sqrt(3 * 2.0**-t * 2.0 ** (m - 2))
    plan = cyclic_shift_parameters(1000, k1, 1000, k2, 0.5, quantum_proof=True, output_length=m)
    assert plan.error == pytest.approx(eps_q)


def test_unequal_lengths_are_zero_padded_by_the_plan() -> None:
    rng = np.random.default_rng(8)
    x = rng.integers(0, 2, 100, dtype=np.uint8)
    y = rng.integers(0, 2, 90, dtype=np.uint8)
    plan = cyclic_shift_parameters(100, 100, 90, 90, 2.0**-10)
    assert plan.input_length == 101 == next_cyclic_length(100)
    padded_x = np.concatenate([x, np.zeros(1, np.uint8)])
    padded_y = np.concatenate([y, np.zeros(11, np.uint8)])
    np.testing.assert_array_equal(extract_two_source(x, y, plan),
                                  cyclic_shift_extract(padded_x, padded_y, plan.output_length))


def test_inner_product_calculator_picks_a_dividing_field() -> None:
    plan = inner_product_parameters(1000, 800, 1000, 900, 2.0**-20)
    assert plan.input_length % plan.field_degree == 0
    assert plan.output_length <= plan.field_degree <= 128
    assert plan.log2_error <= -20


def test_insufficient_entropy_says_what_would_do() -> None:
    # m = 1 needs k1 + k2 >= n + r - 1 + 2 log2(1/eps) = 1019 + 1 - 1 + 40 = 1059.
    with pytest.raises(InsufficientEntropyError, match=r"k1 \+ k2 >= 1059.0 is needed"):
        cyclic_shift_parameters(1000, 500, 1000, 500, 2.0**-20)
    with pytest.raises(InsufficientEntropyError, match=r"output_length <= 642"):
        cyclic_shift_parameters(1000, 800, 1000, 900, 2.0**-20, output_length=643)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: cyclic_shift_extract(np.ones(12), np.ones(12), 3),
         r"n = 12 must be a prime with 2 as primitive root; nearest valid lengths: 11 and 13"),
        (lambda: cyclic_shift_extract(np.ones(17), np.ones(17), 3), r"nearest valid lengths: 13 and 19"),
        (lambda: cyclic_shift_extract(np.ones(13), np.ones(11), 3), r"equal lengths"),
        (lambda: cyclic_shift_extract(np.ones(13), np.ones(13), 13), r"output_length must be an integer in \[1, 12\]"),
        (lambda: cyclic_shift_extract(np.full(13, 3), np.ones(13), 2), r"x must hold only the bit values"),
        (lambda: inner_product_extract(np.ones(12), np.ones(12), 2, 5), r"multiple of field_degree = 5"),
        (lambda: inner_product_extract(np.ones(12), np.ones(12), 5, 4), r"output_length must be an integer in \[1, 4\]"),
        (lambda: cyclic_shift_parameters(100, 101, 100, 50, 0.1), r"k1 must be a min-entropy in \[0, 100\]"),
        (lambda: cyclic_shift_parameters(100, 90, 100, 90, 1.5), r"error must be in \(0, 1\)"),
    ],
)
def test_bad_input(call, match) -> None:
    with pytest.raises(ExtractorInputError, match=match):
        call()


def test_structured_sources_reach_a_large_fraction_of_the_bound() -> None:
    """X uniform on bits 5..10, Y uniform on bits 0..5 of {0,1}^11 (k1 = k2 = 6, k1 + k2 = n + 1).

    z_0 = <x, y> = x_5 y_5 is 1 with probability 1/4: distance exactly 1/4 (by hand), which the
    bound 2^((1 + 11 + 1 - 12)/2 - 1) = 0.707 must cover and which a wrong extractor would miss.
    """
    n, m = 11, 1
    xs = all_bits(np.arange(64), n)
    ys = all_bits(np.arange(64) << 5, n)
    outputs = cyclic_outputs_all_pairs(xs, ys, m)
    spot_check(lambda x, y: cyclic_shift_extract(x, y, m), xs, ys, outputs,
               np.random.default_rng(0))
    assert distance_from_outputs(outputs) == pytest.approx(0.25)
    assert 0.25 <= cyclic_shift_parameters(n, 6, n, 6, 0.999, output_length=m).error
