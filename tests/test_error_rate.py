"""Error-rate estimates used to choose the code (protocols.qkd.error_rate).

The expected value is computed by hand from eq. (26) of paper 000, not from the code.
"""

from __future__ import annotations

import math

import pytest

from protocols.qkd import error_rate as er


def test_bell_value_estimate_by_hand() -> None:
    # M = 7, W-bar = 0.0237, N_e = 10^5: W_up = 0.0237 + 3 sqrt(0.0237 * 0.9763 / 1e5) = 0.025141...,
    # s = sin^2(pi/28) = 0.012536..., xi = (W_up - s) / (0.5 - s) = 0.025859..., lambda = xi / 2.
    w_up = 0.0237 + 3 * math.sqrt(0.0237 * 0.9763 / 1e5)
    s = math.sin(math.pi / 28) ** 2
    assert er.estimate_error_rate(0.0237, 100_000, 7) == pytest.approx((w_up - s) / (0.5 - s) / 2, rel=1e-12)
    assert 0.0129 < er.estimate_error_rate(0.0237, 100_000, 7) < 0.0130
    assert er.estimate_error_rate(0.0, 10**9, 7) == 0.0  # below the ideal value: no noise
    assert er.estimate_error_rate(0.9, 10, 7) == 0.49  # capped
