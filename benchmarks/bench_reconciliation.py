"""One-way error correction (protocols.qkd.reconciliation): efficiency, frame error rate, time.

Efficiency ``f = N_c / (N_r h(lambda))`` counts every published bit (syndromes and tag, eq. 17's
``N_c``); the frame error rate (FER) is the fraction of runs that abort, with Bob's errors
i.i.d. at exactly the design rate ``lambda`` (the hardest honest case: a caller's upper
estimate is usually above the true rate). Runs are seeded (seed = run index), so the figures
are reproducible; FER from ``R`` runs with no failure means "below about 3/R" (95 %).
"""

from __future__ import annotations

import time

import numpy as np

from protocols.qkd.reconciliation import binary_entropy, reconcile
from qdevices.randomness import Randomness

EPS_ERCO = 1e-10
ERROR_RATES = (0.001, 0.005, 0.01, 0.02, 0.03)
#: (raw key length, runs) for the efficiency / FER table: a short key, and one full code block.
TABLE_SIZES = ((10_000, 20), (2**16, 30))
#: raw key lengths timed at lambda = 0.01.
TIMED_LENGTHS = (100_000, 1_000_000)


def _runs(length: int, error_rate: float, runs: int) -> tuple[float, int, float, float]:
    """Efficiency, failures, mean seconds per run and the code rate over seeded runs."""
    failures, seconds, leaked, rate = 0, 0.0, 0, 0.0
    for seed in range(runs):
        rng = np.random.default_rng(seed)
        alice = rng.integers(0, 2, length, dtype=np.uint8)
        bob = alice ^ (rng.random(length) < error_rate).astype(np.uint8)
        start = time.perf_counter()
        result = reconcile(alice, bob, error_rate=error_rate, eps_erco=EPS_ERCO,
                           randomness=Randomness(seed=seed))
        seconds += time.perf_counter() - start
        failures += not result.success
        if result.success and not np.array_equal(result.corrected, alice):
            raise AssertionError("accepted a corrected key different from Alice's")
        leaked, rate = result.leaked_bits, result.code_rate
    return leaked / (length * binary_entropy(error_rate)), failures, seconds / runs, rate


def run() -> None:
    print(f"eps_erco = {EPS_ERCO:g}; errors i.i.d. at the design rate")
    print(f"{'lambda':>7} {'N_r':>8} {'runs':>5} {'code rate':>9} {'f':>6} {'FER':>7} {'s/run':>7}")
    for error_rate in ERROR_RATES:
        for length, runs in TABLE_SIZES:
            f, failures, seconds, rate = _runs(length, error_rate, runs)
            print(f"{error_rate:7.3f} {length:8d} {runs:5d} {rate:9.4f} {f:6.3f} "
                  f"{failures / runs:7.3f} {seconds:7.2f}", flush=True)
    for length in TIMED_LENGTHS:
        f, failures, seconds, _ = _runs(length, 0.01, 1)
        print(f"time to reconcile N_r = {length:.0e} bits at lambda = 0.01: {seconds:.2f} s "
              f"(f = {f:.3f}, {'failed' if failures else 'succeeded'})", flush=True)
