"""Polynomial hashing over GF(2^b) against an independent galois implementation, its
almost-universality by exact enumeration, and its weak-seed L1 bound on exact small instances.

Expected values are computed here with galois (lookup-table fields) and exact enumeration,
never with the module under test, except that its output is compared with them. Random
instances use numpy ``default_rng`` with the stated seeds; all comparisons are exact or are
inequalities against the bound with a ``1e-12`` floating-point allowance.
"""

from __future__ import annotations

import itertools
import math

import galois
import numpy as np
import pytest

from extractors.errors import ExtractorInputError
from extractors.polynomial_hash import (FIELD_DEGREES, collision_bound,
                                        log2_polynomial_hash_l1_error,
                                        polynomial_hash_extract,
                                        polynomial_hash_parameters)


def _field(b: int):
    return galois.GF(2**b, irreducible_poly=galois.Poly.Degrees([b, b // 2, 0]))


def _to_int(bits) -> int:
    return int("".join(str(int(v)) for v in bits) or "0", 2)


def _hash_table(n_bits: int, b: int, m: int) -> np.ndarray:
    """``table[s, x]`` = integer value of ``h_s(x)`` for all ``2^(2b)`` seeds and ``2^N`` inputs,
    seed ``s = y 2^b + a`` and ``x`` MSB-first; computed with galois."""
    field = _field(b)
    k = math.ceil(n_bits / b)
    xs = np.arange(2**n_bits, dtype=np.int64) << (k * b - n_bits)  # zero-pad at the end
    blocks = [field((xs >> ((k - 1 - i) * b)) & (2**b - 1)) for i in range(k)]
    table = np.empty((2**(2 * b), 2**n_bits), dtype=np.int64)
    for y in range(2**b):
        value = field(np.zeros(2**n_bits, dtype=np.int64))
        for i in range(k):
            value = value + blocks[i] * field(y) ** i
        for a in range(2**b):
            table[y * 2**b + a] = (np.asarray(value * field(a), dtype=np.int64) >> (b - m))
    return table


def test_irreducible_moduli():
    for b in FIELD_DEGREES[:5]:
        assert galois.Poly.Degrees([b, b // 2, 0]).is_irreducible()


@pytest.mark.parametrize("b", [2, 6, 18, 54, 162])
def test_matches_galois_reference(b):
    rng = np.random.default_rng(100 + b)
    field = _field(b)
    for _ in range(6):
        n_bits = int(rng.integers(1, 6 * b))
        m = int(rng.integers(1, b + 1))
        x = rng.integers(0, 2, n_bits, dtype=np.uint8)
        seed = rng.integers(0, 2, 2 * b, dtype=np.uint8)
        k = math.ceil(n_bits / b)
        padded = np.zeros(k * b, dtype=np.uint8)
        padded[:n_bits] = x
        y, a = field(_to_int(seed[:b])), field(_to_int(seed[b:]))
        value = field(0)
        for i in range(k):
            value = value + field(_to_int(padded[i * b:(i + 1) * b])) * y**i
        integer = int(a * value)
        expected = [(integer >> (b - 1 - j)) & 1 for j in range(m)]
        assert polynomial_hash_extract(x, seed, b, m).tolist() == expected


def test_hash_table_matches_module():
    table = _hash_table(8, 2, 2)
    rng = np.random.default_rng(7)
    for s, x in rng.integers(0, [16, 256], size=(30, 2)):
        seed = [(int(s) >> (3 - j)) & 1 for j in range(4)]
        bits = [(int(x) >> (7 - j)) & 1 for j in range(8)]
        got = _to_int(polynomial_hash_extract(bits, seed, 2, 2))
        assert got == table[s, x]


@pytest.mark.parametrize("n_bits,b,m", [(8, 2, 1), (8, 2, 2), (10, 2, 2), (12, 6, 1), (12, 6, 2),
                                        (12, 6, 6)])
def test_exact_collision_probability(n_bits, b, m):
    table = _hash_table(n_bits, b, m)
    worst = 0.0
    rng = np.random.default_rng(11)
    pairs = rng.integers(0, 2**n_bits, size=(400, 2))
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    # all pairs with x' = 0 (the difference polynomial ranges over all nonzero x) and random pairs
    for x, other in itertools.chain(((x, 0) for x in range(1, 2**n_bits)), pairs):
        worst = max(worst, float(np.mean(table[:, x] == table[:, other])))
    assert worst <= collision_bound(n_bits, b, m) + 1e-12
    k = math.ceil(n_bits / b)
    if k > 1:  # the degree bound is attained for some pair when k - 1 <= 2^b - 1 roots exist
        assert worst > 2.0**-m


def _seed_laws(b: int, eps: float, rng) -> list[np.ndarray]:
    """Uniform seed and SV-vertex seeds: bit i is 1 w.p. 1/2 + sign_i(prefix) eps, signs a
    random function of the prefix, or the sign that favours 0 always, or a parity of the prefix."""
    d = 2 * b
    seeds = np.arange(2**d)
    bits = (seeds[:, None] >> (d - 1 - np.arange(d))) & 1
    laws = [np.full(2**d, 2.0**-d)]
    rules = [lambda prefix, i: rng.integers(0, 2), lambda prefix, i: 0,
             lambda prefix, i: int(prefix.sum()) % 2]
    for rule in rules:
        law = np.ones(2**d)
        signs = {}
        for s in range(2**d):
            for i in range(d):
                key = (i, tuple(bits[s, :i]))
                if key not in signs:
                    signs[key] = 1 if rule(bits[s, :i], i) else -1
                p_one = 0.5 + signs[key] * eps
                law[s] *= p_one if bits[s, i] else 1.0 - p_one
        laws.append(law)
    return laws


def _sources(n_bits: int, entropy: int, rng) -> list[np.ndarray]:
    """Flat sources (supports) on random subsets and on random GF(2) subspaces/cosets."""
    supports = [rng.choice(2**n_bits, size=2**entropy, replace=False) for _ in range(3)]
    for _ in range(3):
        while True:
            basis = rng.integers(0, 2**n_bits, size=entropy)
            span = {0}
            for v in basis:
                span |= {u ^ int(v) for u in span}
            if len(span) == 2**entropy:
                break
        shift = int(rng.integers(0, 2**n_bits))
        supports.append(np.array(sorted(u ^ shift for u in span)))
    # the first-block-free subspace: x varies only in its last `entropy` bits
    supports.append(np.arange(2**entropy))
    return supports


@pytest.mark.parametrize("n_bits,b,m,entropy,eps", [(8, 2, 1, 4, 0.1), (8, 2, 2, 5, 0.2),
                                                    (12, 6, 1, 6, 0.1), (12, 6, 2, 8, 0.2),
                                                    (10, 6, 2, 7, 0.3), (12, 6, 2, 4, 0.0)])
def test_exact_l1_distance_below_bound(n_bits, b, m, entropy, eps):
    rng = np.random.default_rng(1000 * n_bits + 10 * b + m)
    table = _hash_table(n_bits, b, m)
    bound = 2.0**log2_polynomial_hash_l1_error(n_bits, entropy, eps, b, m)
    for support in _sources(n_bits, entropy, rng):
        counts = np.zeros((table.shape[0], 2**m))
        np.add.at(counts, (np.repeat(np.arange(table.shape[0]), support.size),
                           table[:, support].ravel()), 1.0)
        per_seed = np.abs(counts / support.size - 2.0**-m).sum(axis=1)  # e(s), exact L1
        for law in _seed_laws(b, eps, rng):
            assert float(law @ per_seed) <= bound + 1e-12


def test_bound_formula_and_parameters():
    # (1 + 4 eps^2)^b 2^(m/2) sqrt(2^-G + (ceil(N/b) - 1) 2^-b), evaluated directly
    n_bits, entropy, eps, b, m = 1000, 300.0, 0.25, 162, 64
    direct = (1 + 4 * eps**2)**b * 2**(m / 2) * math.sqrt(2**-entropy + 6 * 2.0**-b)
    assert math.isclose(2**log2_polynomial_hash_l1_error(n_bits, entropy, eps, b, m), direct,
                        rel_tol=1e-12)
    params = polynomial_hash_parameters(n_bits, entropy, eps, m)
    assert params.field_degree in FIELD_DEGREES and params.field_degree >= m
    assert params.seed_bits == 2 * params.field_degree
    assert all(params.log2_l1_error <= log2_polynomial_hash_l1_error(n_bits, entropy, eps, c, m)
               for c in FIELD_DEGREES if c >= m)


@pytest.mark.parametrize("call", [
    lambda: polynomial_hash_extract([1, 0], [0] * 8, 5, 1),
    lambda: polynomial_hash_extract([1, 0], [0] * 7, 2, 1),
    lambda: polynomial_hash_extract([1, 0], [0] * 4, 2, 3),
    lambda: polynomial_hash_parameters(10, 5.0, 0.5, 1),
    lambda: polynomial_hash_parameters(10, -1.0, 0.1, 1),
])
def test_bad_input(call):
    with pytest.raises(ExtractorInputError):
        call()
