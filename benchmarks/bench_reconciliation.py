"""One-way error correction (protocols.qkd.reconciliation): efficiency, frame error rate, time.

* Efficiency ``f = N_c / (N_r h(lambda))`` of the plan (every published bit: syndromes and
  tag, eq. 17's ``N_c``) for ``lambda`` in {0.5, 1, 2, 3} % and ``N_r`` in {1e5, 1e6, 1e7}; it
  is fixed by public data, so no decoding is needed for it.
* Per-block frame error rate (FER) of the block code a run of ``N_r = 10^6`` bits uses
  (4 blocks of 250,000 bits), with errors i.i.d. at exactly the design rate (the case the
  code is sized for), over ``FRAMES`` seeded frames (seed = frame index), and the resulting
  run-level failure probability ``1 - (1 - FER)^k``; with no failure in ``R`` frames the
  95 % upper bound is about ``3/R``.
* Decoding 4 blocks serially, in threads and in processes, side by side in one run (the
  ratio is what matters on a shared machine).

``FRAMES`` is 300 as the issue asks; ``python -m benchmarks reconciliation`` runs it all
(``4 x 300`` decodings of 250,000-bit blocks: measured about 18 s per frame with 2 worker
processes on the shared 2-core machine, i.e. about 1.5 h per point there).
"""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import scipy.stats

from protocols.qkd import reconciliation as rec
from protocols.qkd.keyrate import binary_entropy

EPS_ERCO = 1e-10
ERROR_RATES = (0.005, 0.01, 0.02, 0.03)
RAW_KEY_LENGTHS = (10**5, 10**6, 10**7)
#: frames per FER point, and the raw key length whose block code is measured.
FRAMES = 300
FER_RAW_KEY_LENGTH = 10**6


def efficiency_table() -> None:
    print(f"efficiency f = N_c / (N_r h(lambda)), eps_erco = {EPS_ERCO:g}, run failure target "
          f"{rec.RUN_FAILURE_TARGET:g}")
    print(f"{'lambda':>7} {'N_r':>9} {'blocks':>6} {'n':>7} {'m':>6} {'rate':>7} {'f':>6}")
    for error_rate in ERROR_RATES:
        for length in RAW_KEY_LENGTHS:
            plan = rec.plan_reconciliation(length, error_rate, EPS_ERCO)
            f = plan.leaked_bits / (length * binary_entropy(error_rate))
            print(f"{error_rate:7.3f} {length:9.0e} {plan.blocks:6d} {plan.block_length:7d} "
                  f"{plan.syndrome_length:6d} {plan.code_rate:7.4f} {f:6.3f}", flush=True)


def _frame(arguments: tuple[int, int, float, int]) -> bool:
    """Decode one seeded frame with i.i.d. errors at the design rate; True when it is corrected."""
    n, m, error_rate, seed = arguments
    rng = np.random.default_rng(seed)
    error = (rng.random(n) < error_rate).astype(np.uint8)
    matrix = rec.parity_check_matrix(n, m)
    difference = ((matrix.astype(np.int32) @ error.astype(np.int32)) & 1).astype(np.uint8)
    decoded, converged = rec.decode_block(n, m, n, error_rate, difference)
    return converged and bool(np.array_equal(decoded, error))


def frame_error_rates(frames: int = FRAMES) -> None:
    print(f"per-block FER at the design rate, N_r = {FER_RAW_KEY_LENGTH:.0e} layout, {frames} frames")
    print(f"{'lambda':>7} {'n':>7} {'m':>6} {'fails':>6} {'FER':>8} {'FER95up':>8} {'P(run fails)':>12} {'s/frame':>8}")
    for error_rate in ERROR_RATES:
        plan = rec.plan_reconciliation(FER_RAW_KEY_LENGTH, error_rate, EPS_ERCO)
        n, m = plan.block_length, plan.syndrome_length
        rec.parity_check_matrix(n, m)
        start = time.perf_counter()
        with ProcessPoolExecutor(rec.decoding_workers()) as pool:
            ok = list(pool.map(_frame, [(n, m, error_rate, seed) for seed in range(frames)]))
        seconds = (time.perf_counter() - start) / frames
        fails = frames - sum(ok)
        fer = fails / frames
        upper = float(scipy.stats.beta.ppf(0.95, fails + 1, frames - fails))
        run_failure = 1 - (1 - fer) ** plan.blocks
        print(f"{error_rate:7.3f} {n:7d} {m:6d} {fails:6d} {fer:8.4f} {upper:8.4f} {run_failure:12.4f} "
              f"{seconds:8.2f}", flush=True)


def parallel_timing(blocks: int = 4, block_length: int = 2**16, error_rate: float = 0.02) -> None:
    m = rec.syndrome_length(block_length, error_rate, blocks)
    matrix = rec.parity_check_matrix(block_length, m)
    rng = np.random.default_rng(0)
    errors = (rng.random((blocks, block_length)) < error_rate).astype(np.int32)
    differences = list(((matrix.astype(np.int32) @ errors.T) & 1).T.astype(np.uint8))
    arguments = ([block_length] * blocks, [m] * blocks, [block_length] * blocks, [error_rate] * blocks,
                 differences)
    workers = rec.decoding_workers()
    timings = {}
    start = time.perf_counter()
    serial = list(map(rec.decode_block, *arguments))
    timings["serial"] = time.perf_counter() - start
    for name, executor in (("threads", ThreadPoolExecutor), ("processes", ProcessPoolExecutor)):
        start = time.perf_counter()
        with executor(workers) as pool:
            outcome = list(pool.map(rec.decode_block, *arguments))
        timings[name] = time.perf_counter() - start
        assert all(np.array_equal(a[0], b[0]) for a, b in zip(serial, outcome))
    print(f"decoding {blocks} blocks of {block_length} bits at lambda = {error_rate} on {workers} cores: "
          + ", ".join(f"{k} {v:.2f} s" for k, v in timings.items())
          + f" (serial / processes = {timings['serial'] / timings['processes']:.2f}, "
            f"serial / threads = {timings['serial'] / timings['threads']:.2f})", flush=True)


def run() -> None:
    efficiency_table()
    parallel_timing()
    frame_error_rates()
