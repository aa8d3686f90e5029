r"""Design of the high-rate LDPC degree distributions of :mod:`protocols.qkd.ldpc_codes` (not runtime code).

Discretised density evolution (DE) of sum-product decoding on the binary symmetric channel
BSC(p), as in T. Richardson, A. Shokrollahi, R. Urbanke, "Design of capacity-approaching
irregular low-density parity-check codes", IEEE Trans. Inf. Theory 47(2), 619-637 (2001), with
the quantised check-node rule of S.-Y. Chung, G. D. Forney, T. Richardson, R. Urbanke, "On the
design of low-density parity-check codes within 0.0045 dB of the Shannon limit", IEEE Commun.
Lett. 5(2), 58-60 (2001):

* messages are log-likelihood ratios on the grid ``L = k Delta``, ``|k| <= K`` (saturated at
  ``+-K Delta``); the channel density puts ``1 - p`` on ``+log((1-p)/p)`` and ``p`` on its
  negative, each split linearly between the two neighbouring grid points (the mean is kept);
* variable node of degree ``i``: ``v_i = a_0 (*) c^{(*)(i-1)}`` (``(*)`` = convolution of
  densities, direct, saturated);
* check node: the quantised pairwise rule ``R(a, b) = Q(2 atanh(tanh(a/2) tanh(b/2)))`` applied
  ``j - 1`` times for a check of degree ``j`` (by binary powering, the rule being associative up
  to quantisation);
* edge-perspective mixtures ``v = sum_i lambda_i v_i`` and ``c = sum_j rho_j R^{(j-1)}(v)``;
  the error probability is ``P(L < 0) + P(L = 0)/2`` of ``v``; DE *succeeds* when it falls
  below ``1e-7`` and *fails* when it stops decreasing (a fixed point) or after ``ITERATIONS``.

The check side is concentrated (two consecutive degrees, the row degrees of the construction in
:mod:`protocols.qkd.ldpc_codes`), its average degree set by the design rate,
``(1 / sum_i lambda_i / i) / (1 - R)``. The variable side is searched over a small family
(:func:`family`, grids :data:`SEARCH_GRIDS`): ``lambda_2`` at the staircase bound
``lambda_2 / 2 <= sum_j rho_j / j`` (the degree-2 columns are then fewer than the rows and the
construction places them on a cycle-free staircase; the bound is far below the stability
limit ``lambda_2 rho'(1) 2 sqrt(p (1 - p)) < 1`` of RSU Theorem 5, so stability holds), a
given ``lambda_3``, and the rest spread over a few higher degrees; each candidate's threshold
``p*`` is found by bisection, and the figure of merit is ``(1 - R) / h(p*)``. (Linear-programming
hill climbing of ``lambda`` along a DE trajectory, RSU Sec. III, was tried first: from
``{3: 0.3, 16: 0.7}`` at check degree 64 it stalled at ``(1 - R) / h(p*) = 1.113`` within its
trust region, worse than the search's 1.044.) Above threshold DE reaches a fixed point within
a few iterations, so a failing DE is cheap; :data:`ITERATIONS` = 500 keeps a success within a
few times the decoder's 200 iterations.

``python -m benchmarks.ldpc_design check`` prints the threshold of the regular (3, 6) code (the
check of the DE against the literature value 0.084); ``python -m benchmarks.ldpc_design search
0.9 0.0105 0.013 fine`` re-runs the search that gave the rate-0.90 row of
:data:`protocols.qkd.ldpc_codes.DEGREE_DISTRIBUTIONS` (2 processes, about 2 minutes; the
``coarse`` grid about 9).
"""

from __future__ import annotations

import math
import sys

import numpy as np

#: LLR grid: step Delta and half-width K (saturation at K Delta = 25).
DELTA = 0.0625
K = 400
#: DE iterations before declaring failure; success threshold of the error probability.
ITERATIONS = 500
TARGET = 1e-7

#: Grid masses below this are left out of the check-node rule (far below the 1e-7 target).
NEGLIGIBLE = 1e-20

_GRID = np.arange(-K, K + 1) * DELTA


def _box_plus_table() -> np.ndarray:
    """Index of ``Q(2 atanh(tanh(a/2) tanh(b/2)))`` for every pair of grid points."""
    t = np.tanh(_GRID / 2)
    product = np.clip(np.outer(t, t), -1 + 1e-15, 1 - 1e-15)
    out = 2 * np.arctanh(product)
    return np.clip(np.rint(out / DELTA), -K, K).astype(np.int64) + K


_TABLE = _box_plus_table()


def channel_density(p: float) -> np.ndarray:
    """Density of the channel LLR of BSC(p) on the grid (mass split linearly between neighbours)."""
    density = np.zeros(2 * K + 1)
    value = math.log((1 - p) / p) / DELTA
    low = math.floor(value)
    frac = value - low
    for sign, mass in ((1, 1 - p), (-1, p)):
        for index, weight in ((low, 1 - frac), (low + 1, frac)):
            density[K + sign * index] += mass * weight
    return density


def box_plus(f: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Density of the check-node combination of two independent messages."""
    rows, cols = np.flatnonzero(f > NEGLIGIBLE), np.flatnonzero(g > NEGLIGIBLE)
    out = np.bincount(_TABLE[np.ix_(rows, cols)].ravel(), weights=np.outer(f[rows], g[cols]).ravel(),
                      minlength=2 * K + 1)
    return out / out.sum()


def check_power(v: np.ndarray, count: int) -> np.ndarray:
    """``R^{(count)}``: density of the combination of ``count`` independent messages of density ``v``."""
    result = None
    base = v
    while count:
        if count & 1:
            result = base if result is None else box_plus(result, base)
        count >>= 1
        if count:
            base = box_plus(base, base)
    return result


def convolve(f: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Density of the sum of two independent messages, saturated at ``+-K Delta``."""
    full = np.convolve(f, g)  # direct (FFT round-off would add mass that DE then amplifies)
    out = full[K : 3 * K + 1].copy()  # indices -K..K of the sum
    out[0] += full[:K].sum()
    out[-1] += full[3 * K + 1 :].sum()
    return out


def error_probability(density: np.ndarray) -> float:
    return float(density[:K].sum() + 0.5 * density[K])


def _check_mixture(v: np.ndarray, rho: dict[int, float]) -> np.ndarray:
    degrees = sorted(rho)
    powers = {}
    low = degrees[0] - 1
    powers[low] = check_power(v, low)
    for d in degrees[1:]:
        current = powers[max(powers)]
        for j in range(max(powers) + 1, d):
            current = box_plus(current, v)
            powers[j] = current
    return sum(rho[d] * powers[d - 1] for d in degrees)


def _variable_outputs(a0: np.ndarray, c: np.ndarray, max_degree: int) -> list[np.ndarray]:
    """``a_0 (*) c^{(*)(i-1)}`` for ``i = 1 .. max_degree`` (index ``i - 1``)."""
    outputs = [a0]
    for _ in range(max_degree - 1):
        outputs.append(convolve(outputs[-1], c))
    return outputs


def density_evolution(lam: dict[int, float], rho: dict[int, float], p: float) -> bool:
    """True when DE of ``(lam, rho)`` on BSC(p) drives the error probability below :data:`TARGET`."""
    a0 = channel_density(p)
    v = a0
    max_degree = max(lam)
    previous = error_probability(v)
    stalled = 0
    for _ in range(ITERATIONS):
        outputs = _variable_outputs(a0, _check_mixture(v, rho), max_degree)
        v = sum(lam[i] * outputs[i - 1] for i in lam)
        error = error_probability(v)
        if error < TARGET:
            return True
        stalled = stalled + 1 if error > previous * (1 - 1e-5) else 0
        if stalled >= 5:
            return False
        previous = error
    return False


def threshold(lam: dict[int, float], rho: dict[int, float], low: float = 0.001, high: float = 0.1,
              tolerance: float = 2e-5) -> float:
    """Largest ``p`` at which DE succeeds, by bisection on ``[low, high]``."""
    while high - low > tolerance:
        middle = (low + high) / 2
        if density_evolution(lam, rho, middle):
            low = middle
        else:
            high = middle
    return low


def design_rate(lam: dict[int, float], rho: dict[int, float]) -> float:
    """``R = 1 - (sum_j rho_j / j) / (sum_i lambda_i / i)``."""
    return 1 - sum(r / j for j, r in rho.items()) / sum(x / i for i, x in lam.items())


def concentrated_rho(average_degree: float) -> dict[int, float]:
    """Edge fractions of the concentrated check side with node-average degree ``average_degree``."""
    low = math.floor(average_degree)
    node_high = average_degree - low  # node fraction on degree low + 1
    edges = {low: (1 - node_high) * low, low + 1: node_high * (low + 1)}
    total = sum(edges.values())
    return {d: e / total for d, e in edges.items() if e > 0}


def binary_entropy(p: float) -> float:
    return -p * math.log2(p) - (1 - p) * math.log2(1 - p)


def report(name: str, lam: dict[int, float], rho: dict[int, float]) -> None:
    rate = design_rate(lam, rho)
    p_star = threshold(lam, rho, low=0.002, high=0.12)
    print(f"{name}: rate {rate:.4f}, threshold p* = {p_star:.5f}, (1-R)/h(p*) = "
          f"{(1 - rate) / binary_entropy(p_star):.4f}", flush=True)
    print("  lambda = {" + ", ".join(f"{i}: {x:.5f}" for i, x in sorted(lam.items())) + "}", flush=True)


def rho_for_rate(lam: dict[int, float], rate: float) -> dict[int, float]:
    """Concentrated check side giving design rate ``rate`` with ``lam``: average check degree
    ``(1 / sum_i lambda_i / i) / (1 - rate)``."""
    return concentrated_rho(1 / sum(x / i for i, x in lam.items()) / (1 - rate))


def family(rate: float, third: float, high: dict[int, float]) -> dict[int, float]:
    """``lambda_2`` at the staircase bound (0.98 of ``2 sum_j rho_j / j``, solved with the rate),
    ``lambda_3 = third``, the rest on ``high`` (relative weights)."""
    lam2 = 0.0
    for _ in range(50):  # fixed point: the bound depends on rho, which depends on lambda
        rest = 1 - lam2 - third
        lam = {2: lam2, 3: third} | {d: rest * w / sum(high.values()) for d, w in high.items()}
        rho = rho_for_rate({d: x for d, x in lam.items() if x > 0}, rate)
        lam2 = 0.98 * 2 * sum(r / j for j, r in rho.items())
    return {d: x for d, x in lam.items() if x > 0}


def _candidate_threshold(arguments: tuple) -> tuple:
    rate, third, high, low, top = arguments
    lam = family(rate, third, high)
    rho = rho_for_rate(lam, rate)
    return third, high, lam, rho, threshold(lam, rho, low=low, high=top, tolerance=3e-5)


#: The search grids: (lambda_3 values, high-degree mixtures). The first was searched at rate
#: 0.90 (32 candidates); the second refines around its best, {6: 0.1, 12: 0.4, 40: 0.5}.
SEARCH_GRIDS = {
    "coarse": ((0.2, 0.25, 0.3, 0.35),
               ({12: 1.0}, {16: 1.0}, {20: 1.0}, {25: 1.0}, {6: 0.2, 20: 0.8}, {8: 0.3, 30: 0.7},
                {10: 0.5, 40: 0.5}, {6: 0.1, 12: 0.4, 40: 0.5})),
    "fine": ((0.15, 0.2),
             ({6: 0.1, 12: 0.4, 40: 0.5}, {5: 0.1, 10: 0.3, 20: 0.2, 40: 0.4}, {6: 0.1, 12: 0.4, 50: 0.5},
              {4: 0.1, 8: 0.2, 16: 0.2, 40: 0.5})),
}


def search(rate: float, low: float, top: float, grid_name: str, workers: int = 2) -> None:
    """Thresholds of the staircase-compatible family over a grid of :data:`SEARCH_GRIDS`."""
    from concurrent.futures import ProcessPoolExecutor

    thirds, highs = SEARCH_GRIDS[grid_name]
    grid = [(rate, third, high, low, top) for third in thirds for high in highs]
    with ProcessPoolExecutor(workers) as pool:
        for third, high, lam, rho, p_star in pool.map(_candidate_threshold, grid):
            efficiency = (1 - design_rate(lam, rho)) / binary_entropy(p_star)
            print(f"rate {design_rate(lam, rho):.4f} lambda_3 {third} high {high}: p* {p_star:.5f} "
                  f"f* {efficiency:.4f} lambda {{" + ", ".join(f"{i}: {x:.5f}" for i, x in sorted(lam.items()))
                  + f"}} rho {{" + ", ".join(f"{j}: {r:.4f}" for j, r in rho.items()) + "}", flush=True)


def main(argv: list[str]) -> int:
    if argv and argv[0] == "search":
        search(float(argv[1]), float(argv[2]), float(argv[3]), argv[4])
        return 0
    if argv and argv[0] == "check":
        # regular (3,6): p* = 0.084 on the BSC (Richardson-Urbanke, IEEE TIT 47(2) 599 (2001));
        # Elkouss et al. (ISIT 2009) Table I rows at rates 0.85 / 0.80: p* = 0.0199 / 0.0298 (the
        # table's rate-0.80 row has lambda_2 lowered to the staircase bound: 0.02875 here)
        from protocols.qkd.ldpc_codes import DEGREE_DISTRIBUTIONS

        report("regular (3,6)", {3: 1.0}, {6: 1.0})
        for rate, lam in DEGREE_DISTRIBUTIONS[:3]:
            report(f"table row {rate}", lam, rho_for_rate(lam, rate))
        return 0
    return 0
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
