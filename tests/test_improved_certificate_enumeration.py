"""Exact enumeration for n <= 6 runs (issue 10, item 4): the two per-run statements of the improved
chain (docs/amplification_improved_certificate.md) on mixtures of ideal, noisy and deterministic
four-party boxes under eps-SV settings.

* Step (i), good set: ``q(x | z, u, e) = prod_i P_i(x_i|u_i) <= 2^(-n f(Lbar_n))``, ``f`` =
  :func:`per_run_entropy`.
* Step (ii), bad-set mass: ``P(L_n <= j/n) <= exp(-n D(j/n || theta))`` whenever ``Lbar_n > theta``
  and ``j/n <= theta``.

Everything physical is built here from scratch (no library box, Bell indicator or LP): the Bell
indicator ``B(x, u)`` of eq. (5) (weight-1 settings violate on even output parity, weight-3 ones on
odd parity), the boxes, the exact minimum of the conditional Bell value ``Bbar`` over every eps-SV
law of the 4 setting bits (backward recursion over the bits, each bit's conditional probability
at a vertex ``1/2 +- eps``), and the exact law of ``n L_n`` (Poisson-binomial convolution).
Eve's run-by-run choice of box ``e`` is enumerated as every multiset of ``n`` (box, SV law) pairs
from the Pareto frontier of (largest output probability, smallest ``Bbar``): any other pair is
dominated and only makes both inequalities easier. Deterministic, no tolerance beyond 1e-12.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from protocols.amplification.improved_certificate import binary_kl_nats, per_run_entropy

SETTINGS = np.array(list(itertools.product((0, 1), repeat=4)), dtype=np.int64)  # u1..u4, u1 first
OUTPUTS = SETTINGS.copy()  # x1..x4
WEIGHT = SETTINGS.sum(axis=1)
PARITY = OUTPUTS.sum(axis=1) % 2
# BELL[u, x]: eq. (5)'s indicator, written out independently of protocols.bell.
BELL = (((WEIGHT[:, None] == 1) & (PARITY[None, :] == 0))
        | ((WEIGHT[:, None] == 3) & (PARITY[None, :] == 1))).astype(np.float64)


def ideal_box() -> np.ndarray:
    """P[u, x]: never violates; uniform on the allowed parity for tested settings, uniform
    otherwise. No-signalling: every marginal of at most 3 parties is uniform."""
    allowed = 1.0 - BELL
    tested = (WEIGHT == 1) | (WEIGHT == 3)
    allowed[~tested] = 1.0
    return allowed / allowed.sum(axis=1, keepdims=True)


def deterministic_box(strategy: tuple[int, ...]) -> np.ndarray:
    """Local deterministic box x_k = a_k(u_k); ``strategy`` lists (a_k(0), a_k(1)) per party."""
    table = np.array(strategy).reshape(4, 2)
    x = table[np.arange(4)[None, :], SETTINGS]  # (16, 4)
    box = np.zeros((16, 16))
    box[np.arange(16), x @ (1 << np.arange(3, -1, -1))] = 1.0
    return box


def boxes() -> list[np.ndarray]:
    ideal, uniform = ideal_box(), np.full((16, 16), 1.0 / 16)
    deterministic = [deterministic_box(s) for s in itertools.product((0, 1), repeat=8)]
    noisy = [(1 - xi) * ideal + xi * uniform for xi in (0.01, 0.1, 0.5)]
    mixtures = [p * d + (1 - p) * ideal for p in (0.05, 0.3, 0.7) for d in deterministic[::37]]
    return [ideal, uniform] + noisy + deterministic + mixtures


def min_sv_bell_value(per_setting: np.ndarray, eps: float) -> float:
    """min over eps-SV laws nu of sum_u nu(u) b(u) (b = per-setting violation probability):
    backward recursion, each bit given the earlier ones has P(1) in {1/2 - eps, 1/2 + eps}."""
    values = per_setting.reshape(2, 2, 2, 2)
    for _ in range(4):
        zero, one = values[..., 0], values[..., 1]
        values = np.minimum((0.5 + eps) * zero + (0.5 - eps) * one,
                            (0.5 - eps) * zero + (0.5 + eps) * one)
    return float(values)


def frontier(eps: float) -> np.ndarray:
    """(largest P(x|u), smallest Bbar) of every box, reduced to the Pareto frontier."""
    pairs = {(round(float(box.max()), 12), round(min_sv_bell_value((box * BELL).sum(axis=1), eps), 12))
             for box in boxes()}
    kept = [(g, b) for g, b in pairs
            if not any(g2 >= g and b2 <= b and (g2, b2) != (g, b) for g2, b2 in pairs)]
    return np.array(sorted(kept))


def multisets(size: int, count: int) -> np.ndarray:
    return np.array(list(itertools.combinations_with_replacement(range(size), count)), dtype=np.int64)


def good_set_violations(eps: float, entropy) -> int:
    """Multisets (n <= 6) where prod_i g_i > 2^(-n f(mean Bbar_i)) with ``entropy`` as f."""
    points, found = frontier(eps), 0
    for runs in range(1, 7):
        chosen = points[multisets(len(points), runs)]
        log2_q = np.log2(chosen[..., 0]).sum(axis=1)
        lbar = chosen[..., 1].mean(axis=1)
        bound = -runs * np.array([entropy(b, eps) for b in lbar])
        found += int((log2_q > bound + 1e-12).sum())
    return found


@pytest.mark.parametrize("eps", [0.0, 0.01, 0.1, 0.3])
def test_good_set_probability_bound(eps):
    assert len(frontier(eps)) >= 2  # the ideal box and a deterministic box at least
    assert good_set_violations(eps, per_run_entropy) == 0


def test_the_enumeration_catches_a_wrong_f():
    """Dropping Lemma 10's factor 1/c (f(b) = log2(3/(1 + b))) is caught: deterministic boxes
    under the least-testing SV law reach Bbar = 2c with probability 1."""
    def mutant(bell, eps):
        return max(0.0, math.log2(3.0) - math.log2(1.0 + bell))

    assert good_set_violations(0.0, mutant) > 0
    assert good_set_violations(0.1, mutant) > 0


def poisson_binomial(probabilities: np.ndarray) -> np.ndarray:
    law = np.ones(1)
    for p in probabilities:
        law = np.convolve(law, [1.0 - p, p])
    return law


def bad_set_violations(eps: float, kl_exponent) -> int:
    """Cases where P(n L_n <= j) > exp(-kl_exponent(j, n, theta)) with Lbar > theta >= j/n."""
    points, found = frontier(eps)[:, 1], 0
    points = np.unique(np.concatenate([points, [0.02, 0.1, 0.3]]))  # also noisy-device levels
    for runs in range(1, 7):
        for chosen in points[multisets(len(points), runs)]:
            lbar = chosen.mean()
            cumulative = np.cumsum(poisson_binomial(chosen))
            for theta in (0.25 * lbar, 0.5 * lbar, 0.9 * lbar):
                for j in range(0, math.floor(theta * runs + 1e-12) + 1):
                    if cumulative[j] > math.exp(-kl_exponent(j, runs, theta)) + 1e-12:
                        found += 1
    return found


@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_bad_set_mass_bound(eps):
    assert bad_set_violations(eps, lambda j, n, theta: n * float(binary_kl_nats(j / n, theta))) == 0


def test_the_enumeration_catches_a_doubled_exponent():
    assert bad_set_violations(0.0, lambda j, n, theta: 2 * n * float(binary_kl_nats(j / n, theta))) > 0
