"""The certificates' extractor models (:mod:`extractors.models`): their ``from_params``
calculators against closed forms, and their extraction against the underlying extractors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from extractors.models import (CyclicShiftExtractor, PolynomialHashExtractor,
                               ThreeSourceByConcatenation)
from extractors.polynomial_hash import polynomial_hash_extract
from extractors.two_source import cyclic_shift_extract


@pytest.mark.parametrize("x_length, kx, kt, target", [(400, 150.0, 398.5, -20.0),
                                                      (1000, 700.0, 1012.0, -40.0),
                                                      (60, 10.0, 59.0, -3.0)])
def test_cyclic_shift_output_length_closed_form(x_length, kx, kt, target):
    """L1 error 2^((m + L + 1 - kx - kt)/2) <= 2^T  <=>  m <= 2T + kx + kt - L - 1 (and m <= L - 1)."""
    model = CyclicShiftExtractor()
    length = model.t_length(x_length)
    expected = max(0, min(length - 1, math.floor(2 * target + kx + kt - length - 1)))
    assert model.from_params(x_length, kx, kt, target) == expected
    if expected:
        assert model.log2_error(x_length, kx, length, kt, expected) <= target
    if 0 < expected < length - 1:
        assert model.log2_error(x_length, kx, length, kt, expected + 1) > target


def test_three_source_model_is_the_cyclic_shift_on_the_concatenation():
    pair, triple = CyclicShiftExtractor(), ThreeSourceByConcatenation()
    assert triple.t_length(300) == pair.t_length(600)
    assert triple.from_params(300, 100.0, 590.0, -10.0) == pair.from_params(600, 200.0, 590.0, -10.0)


def test_polynomial_hash_output_length_is_the_largest_meeting_the_target():
    model = PolynomialHashExtractor()
    bits = model.from_params(4000, 300.0, 0.1, -40.0)
    assert bits > 0
    assert model.parameters(4000, 300.0, 0.1, bits).log2_l1_error <= -40.0
    assert model.parameters(4000, 300.0, 0.1, bits + 1).log2_l1_error > -40.0
    assert model.from_params(4000, 10.0, 0.1, -40.0) == 0  # too little entropy


def test_models_extract_with_the_underlying_extractors():
    rng = np.random.default_rng(11)
    x = rng.integers(0, 2, 40, dtype=np.uint8)
    cyclic = CyclicShiftExtractor()
    t = rng.integers(0, 2, cyclic.t_length(40), dtype=np.uint8)
    padded = np.concatenate([x, np.zeros(t.size - x.size, dtype=np.uint8)])
    np.testing.assert_array_equal(cyclic.extract(x, t, 5), cyclic_shift_extract(padded, t, 5))
    seed = rng.integers(0, 2, 2 * 18, dtype=np.uint8)
    np.testing.assert_array_equal(PolynomialHashExtractor().extract(x, seed, 7),
                                  polynomial_hash_extract(x, seed, 18, 7))
