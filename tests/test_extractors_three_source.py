"""Three-source extractor by concatenation: definition, bound arithmetic, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from extractors import (
    ExtractorInputError,
    InsufficientEntropyError,
    cyclic_shift_extract,
    three_source_extract,
    three_source_parameters,
)


def test_is_the_cyclic_shift_extractor_on_x1_and_x2_x3() -> None:
    rng = np.random.default_rng(12)
    x1, x2, x3 = (rng.integers(0, 2, size, dtype=np.uint8) for size in (1000, 600, 400))
    plan = three_source_parameters(1000, 900, 600, 550, 400, 380, 2.0**-30)
    assert plan.two_source.input_length == 1019
    second = np.concatenate([x2, x3, np.zeros(19, np.uint8)])
    first = np.concatenate([x1, np.zeros(19, np.uint8)])
    np.testing.assert_array_equal(three_source_extract(x1, x2, x3, plan),
                                  cyclic_shift_extract(first, second, plan.output_length))


def test_bound_uses_the_sum_of_the_last_two_min_entropies() -> None:
    # k1 + (k2 + k3) = 900 + 930 = 1830; n = 1019, r = 1, eps = 2^-30:
    # m = floor(1830 - 1019 - 1 + 2 - 60) = 752.
    plan = three_source_parameters(1000, 900, 600, 550, 400, 380, 2.0**-30)
    assert plan.output_length == 752
    assert plan.error <= 2.0**-30
    assert plan.min_entropies == (900.0, 550.0, 380.0)


def test_refuses_when_entropy_is_too_low() -> None:
    with pytest.raises(InsufficientEntropyError, match=r"is needed"):
        three_source_parameters(1000, 300, 600, 200, 400, 100, 2.0**-30)


def test_bad_input() -> None:
    with pytest.raises(ExtractorInputError, match=r"min-entropy of source 3 must be in \[0, 400\]"):
        three_source_parameters(1000, 900, 600, 550, 400, 401, 2.0**-30)
    plan = three_source_parameters(1000, 900, 600, 550, 400, 380, 2.0**-30)
    with pytest.raises(ExtractorInputError, match=r"source lengths must be \(1000, 600, 400\)"):
        three_source_extract(np.ones(1000), np.ones(600), np.ones(300), plan)
