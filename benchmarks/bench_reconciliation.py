"""One-way error correction (protocols.qkd.reconciliation): efficiency, frame error rate, time.

* Efficiency ``f = N_c / (N_r h(lambda))`` of the plan (every published bit: syndromes and
  tag, eq. 17's ``N_c``) for ``lambda`` in {0.5, 1, 2, 3} % and ``N_r`` in {1e5, 1e6, 1e7}; it
  is fixed by public data, so no decoding is needed for it.
* In-run efficiency (:func:`in_run_efficiency`): ``f = N_c / (N_r h(QBER))`` read from the JSON
  report of ``bellbox qkd`` runs (:data:`IN_RUN_COMMANDS`), ``QBER`` being the run's measured
  (local-only) key-round error rate.
* Per-block frame error rate (FER) of the block code a run of ``N_r = 10^6`` bits uses
  (4 blocks of 250,000 bits), with errors i.i.d. at exactly the design rate (the case the
  code is sized for), over ``FRAMES`` seeded frames (seed = frame index), and the resulting
  run-level failure probability ``1 - (1 - FER)^k``, also at the one-sided 95 %
  Clopper-Pearson upper bound of the FER (with no failure in ``R`` frames about ``3/R``).
* Knot calibration (:func:`calibrate`) of ``CODE_EFFICIENCY_KNOTS``: fixed-weight frames.
* Decoding 4 blocks serially, in threads and in processes, side by side in one run (the
  ratio is what matters on a shared machine).

``FRAMES`` is 300 as the issue asks; ``python -m benchmarks reconciliation`` runs it all.
Single commands (2 worker processes): ``python -m benchmarks.bench_reconciliation fer FRAMES
FIRST_SEED LAMBDA...``, ``... calibrate N P FRAMES F...``, ``... inrun``.

Measured (codes of issue 12 item 4: staircase construction, DE-designed rate-0.90 row,
rate-0.80 row with lowered lambda_2; shared 2-core machine, 2 worker processes, 4-8 s of wall
time per frame, so 300 frames per point take 20-40 min):

======  ===  =======  ======  ===============  ==========  ===============  =================
lambda   k      n        m    frames (seeds)    failures    FER 95 % up      P(run fails) 95 %
======  ===  =======  ======  ===============  ==========  ===============  =================
 1 %     4   250000   23956   300 (0-299)        0          0.00994           0.039
 2 %     4   250000   42032   300 (0-299)        0          0.00994           0.039
 3 %     4   250000   55878   300 (0-299)        0          0.00994           0.039
======  ===  =======  ======  ===============  ==========  ===============  =================

(point estimates 0; the 95 % bounds are far above the 10^-2 run target: showing it needs
about 1200 frames per point). Before the rate-0.80 row's lambda_2 was lowered, the 3 % code
(extra degree-2 columns as random chords of the staircase) failed 11 of 100 frames (seeds 0-99).

In-run (``inrun``; seed 1): QBER 1.01 %, ``N_r`` 1,025,332, ``f`` 1.189 (1.186 against the
estimate); QBER 2.00 %, ``N_r`` 1,043,023, ``f`` 1.192 (1.188); QBER 2.98 %, ``N_r`` 1,062,625,
``f`` 1.162 (1.153); every run corrected and ended in a key.
"""

from __future__ import annotations

import math
import sys
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


def _fixed_weight_frame(arguments: tuple[int, int, float, int]) -> tuple[bool, float]:
    """One frame with exactly ``round(n p)`` errors at seeded random positions; (corrected, seconds)."""
    n, m, error_rate, seed = arguments
    rng = np.random.default_rng(seed)
    error = np.zeros(n, dtype=np.uint8)
    error[rng.choice(n, round(n * error_rate), replace=False)] = 1
    matrix = rec.parity_check_matrix(n, m)
    difference = ((matrix.astype(np.int32) @ error.astype(np.int32)) & 1).astype(np.uint8)
    start = time.perf_counter()
    decoded, converged = rec.decode_block(n, m, n, error_rate, difference)
    return converged and bool(np.array_equal(decoded, error)), time.perf_counter() - start


def calibrate(n: int, error_rate: float, factors: tuple[float, ...], frames: int,
              workers: int = 2) -> None:
    """Knot calibration of ``CODE_EFFICIENCY_KNOTS``: code ``m = ceil(f n h(p))`` for each ``f``,
    ``frames`` frames of fixed weight ``round(n p)`` (seeds 0..frames-1), decoded at design rate ``p``."""
    for factor in factors:
        m = math.ceil(factor * n * binary_entropy(error_rate))
        rec.parity_check_matrix(n, m)
        with ProcessPoolExecutor(workers) as pool:
            outcomes = list(pool.map(_fixed_weight_frame, [(n, m, error_rate, s) for s in range(frames)]))
        fails = sum(not ok for ok, _ in outcomes)
        print(f"n {n} p {error_rate} f {factor:.3f} m {m} rate {1 - m / n:.4f}: {fails}/{frames} failed, "
              f"{np.mean([t for _, t in outcomes]):.1f} s/frame", flush=True)


def frame_error_rates(frames: int = FRAMES, error_rates: tuple[float, ...] = ERROR_RATES,
                      first_seed: int = 0, workers: int | None = None) -> None:
    """FER of the N_r = 10^6 block code at each design rate; seeds ``first_seed ..``.

    ``FER95up`` is the one-sided 95 % Clopper-Pearson upper bound ``Beta(0.95; fails + 1,
    frames - fails)``; ``P(run fails)`` is ``1 - (1 - FER)^k`` at the point estimate and at that
    upper bound (``k`` blocks of the run).
    """
    print(f"per-block FER at the design rate, N_r = {FER_RAW_KEY_LENGTH:.0e} layout, {frames} frames, "
          f"seeds {first_seed}..{first_seed + frames - 1}")
    print(f"{'lambda':>7} {'k':>3} {'n':>7} {'m':>6} {'fails':>6} {'FER':>8} {'FER95up':>8} "
          f"{'P(run)':>8} {'P(run)95':>8} {'s/frame':>8}")
    for error_rate in error_rates:
        plan = rec.plan_reconciliation(FER_RAW_KEY_LENGTH, error_rate, EPS_ERCO)
        n, m = plan.block_length, plan.syndrome_length
        rec.parity_check_matrix(n, m)
        start = time.perf_counter()
        with ProcessPoolExecutor(workers or rec.decoding_workers()) as pool:
            ok = list(pool.map(_frame, [(n, m, error_rate, seed)
                                        for seed in range(first_seed, first_seed + frames)]))
        seconds = (time.perf_counter() - start) / frames
        fails = frames - sum(ok)
        fer = fails / frames
        upper = float(scipy.stats.beta.ppf(0.95, fails + 1, frames - fails))
        run_failure = 1 - (1 - fer) ** plan.blocks
        run_upper = 1 - (1 - upper) ** plan.blocks
        print(f"{error_rate:7.3f} {plan.blocks:3d} {n:7d} {m:6d} {fails:6d} {fer:8.4f} {upper:8.4f} "
              f"{run_failure:8.4f} {run_upper:8.4f} {seconds:8.2f}", flush=True)


#: ``bellbox qkd`` runs whose error correction is measured in place: (lambda, CLI options). White
#: noise xi gives QBER xi/2. The chained protocol with the no-signaling key length certifies
#: no key at 2 % and 3 % (W-bar above its threshold), and the quantum key length none at
#: gamma = 0.84 there, so those points use the quantum adversary with gamma "auto" (0.886 and
#: 0.919) and more rounds, for N_r >= 10^6.
IN_RUN_COMMANDS = (
    (0.01, ["--noise", "0.02", "--rounds", "40000000", "--gamma", "0.84", "--adversary", "quantum"]),
    (0.02, ["--noise", "0.04", "--rounds", "80000000", "--gamma", "auto", "--adversary", "quantum"]),
    (0.03, ["--noise", "0.06", "--rounds", "160000000", "--gamma", "auto", "--adversary", "quantum"]),
)


def in_run_efficiency() -> None:
    """``f = N_c / (N_r h(QBER))`` inside ``bellbox qkd --json --seed 1`` runs, with ``QBER`` the
    run's local-only measured error rate and ``N_c`` its ``leaked_bits``; also ``f`` against the
    run's estimate ``lambda`` (the code's design rate), whose ratio is the cost of the estimate."""
    import json
    import subprocess

    print(f"{'lambda':>7} {'N_r':>8} {'QBER':>8} {'estimate':>8} {'blocks':>6} {'n':>7} {'N_c':>7} "
          f"{'f':>6} {'f(est)':>6} {'key':>7} {'EC s':>6}")
    for error_rate, options in IN_RUN_COMMANDS:
        out = subprocess.run([sys.executable, "-c", "import sys; from protocols.cli import main; sys.exit(main())",
                              "qkd", *options, "--json", "--seed", "1"],
                             capture_output=True, text=True, check=False).stdout
        report = json.loads(out)
        if report["qber"] is None:
            print(f"{error_rate:7.3f} no error correction: {report['reason']}", flush=True)
            continue
        n_r, leaked = report["raw_key_rounds"], report["leaked_bits"]
        recon = report["reconciliation"]
        print(f"{error_rate:7.3f} {n_r:8d} {report['qber']:8.5f} {report['error_rate_estimate']:8.5f} "
              f"{recon['blocks']:6d} {recon['block_length']:7d} {leaked:7d} "
              f"{leaked / (n_r * binary_entropy(report['qber'])):6.3f} "
              f"{leaked / (n_r * binary_entropy(report['error_rate_estimate'])):6.3f} {report['key_length']:7d} "
              f"{report['timings']['error_correction']:6.1f}", flush=True)


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


def main(argv: list[str]) -> int:
    """``calibrate N P FRAMES F...``, ``inrun`` or ``fer FRAMES FIRST_SEED P...`` (2 worker processes)."""
    if argv[0] == "calibrate":
        calibrate(int(argv[1]), float(argv[2]), tuple(map(float, argv[4:])), int(argv[3]))
    elif argv[0] == "inrun":
        in_run_efficiency()
    elif argv[0] == "fer":
        frame_error_rates(int(argv[1]), tuple(map(float, argv[3:])), first_seed=int(argv[2]), workers=2)
    else:
        raise SystemExit(f"unknown command {argv[0]!r}: use calibrate, inrun or fer")
    return 0


def run() -> None:
    efficiency_table()
    in_run_efficiency()
    parallel_timing()
    frame_error_rates()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
