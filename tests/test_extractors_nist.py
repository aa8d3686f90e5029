"""Outputs of the extractors from Santha-Vazirani inputs pass SP 800-22-style tests.

Seeds are fixed; significance level alpha = 0.01 as in NIST SP 800-22. The raw SV input is
checked to *fail* the same tests, so the tests have power here.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from extractors import (
    cyclic_shift_extract,
    cyclic_shift_parameters,
    inner_product_extract,
    three_source_extract,
    three_source_parameters,
    toeplitz_hash,
)
from tests.nist_sts import block_frequency_test, frequency_test, runs_test

ALPHA = 0.01
SV_BIAS = 0.1


def sv_bits(n: int, seed: int) -> np.ndarray:
    """An SV source with bias 0.1: each bit repeats the previous one with probability 0.6.

    P(b_i = 1 | past) is 0.6 or 0.4, so P(b_i | past) <= 1/2 + 0.1 and the min-entropy of ``n``
    bits is at least ``n log2(1 / 0.6)``.
    """
    rng = np.random.default_rng(seed)
    flips = rng.random(n) < 0.5 - SV_BIAS
    return (np.cumsum(flips) % 2).astype(np.uint8)


def sv_min_entropy(n: int) -> float:
    return n * math.log2(1.0 / (0.5 + SV_BIAS))


def assert_passes(bits: np.ndarray) -> None:
    assert frequency_test(bits) >= ALPHA
    assert block_frequency_test(bits, 128) >= ALPHA
    assert runs_test(bits) >= ALPHA


def test_nist_helpers_reproduce_sp800_22_examples() -> None:
    """Worked examples of SP 800-22 rev. 1a, Sec. 2.1.4, 2.2.4 and 2.3.4."""
    as_bits = lambda text: np.array([int(c) for c in text], dtype=np.uint8)  # noqa: E731
    assert frequency_test(as_bits("1011010101")) == pytest.approx(0.527089, abs=1e-6)
    assert block_frequency_test(as_bits("0110011010"), 3) == pytest.approx(0.801252, abs=1e-6)
    assert runs_test(as_bits("1001101011")) == pytest.approx(0.147232, abs=1e-6)


def test_raw_sv_input_fails_the_runs_test() -> None:
    raw = sv_bits(100_000, seed=11)
    assert runs_test(raw) < ALPHA


def test_cyclic_shift_output_from_two_sv_sources_passes() -> None:
    n = 100_043  # prime, 2 primitive
    x, y = sv_bits(n, seed=1), sv_bits(n, seed=2)
    plan = cyclic_shift_parameters(n, sv_min_entropy(n), n, sv_min_entropy(n), 2.0**-40)
    out = cyclic_shift_extract(x, y, plan.output_length)
    assert plan.output_length > 40_000
    assert_passes(out)


def test_three_source_output_from_sv_sources_passes() -> None:
    n = 60_000
    sources = [sv_bits(n, seed=s) for s in (3, 4, 5)]
    k = sv_min_entropy(n)
    plan = three_source_parameters(n, k, n, k, n, k, 2.0**-40)
    assert_passes(three_source_extract(*sources, plan))


def test_toeplitz_output_from_sv_input_with_uniform_seed_passes() -> None:
    n = 100_000
    x = sv_bits(n, seed=6)
    m = math.floor(sv_min_entropy(n) + 2 - 2 * 40)
    seed = np.random.default_rng(7).integers(0, 2, n + m - 1, dtype=np.uint8)
    assert_passes(toeplitz_hash(x, seed, m))


def test_inner_product_outputs_from_sv_blocks_pass() -> None:
    """Many 64-bit outputs of the GF(2^64) inner product, each from fresh SV blocks of 1024 bits."""
    outputs = [
        inner_product_extract(sv_bits(1024, seed=1000 + i), sv_bits(1024, seed=5000 + i), 64, 64)
        for i in range(160)
    ]
    assert_passes(np.concatenate(outputs))
