"""Protocol I of paper 004 at scale: planner figures, wall time and peak memory of a run.

Request of issue 5: 64 bits at ``d_comp p(ACC) <= 2^-40`` with eps = 0.01. If the planner's n
exceeds 10^10 (or no n certifies), the run uses n = 10^9 (``BELLBOX_BENCH_AMPLIFY_RUNS``
overrides) and reports its certificate (paper 004's chain, ``certificate="paper"``). A second run at eps = 0 uses the planned n, where the
request is certifiable, to time extraction too. Rounds are streamed in chunks of 2^20.
"""

from __future__ import annotations

import os
import resource
import time

FALLBACK_RUNS = 10**9
RUN_LIMIT = 10**10
OUTPUT_BITS = 64
ERROR = 2.0**-40


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _timed_run(eps: float, runs: int) -> None:
    from protocols.amplification.protocol1 import CyclicShiftExtractor, run_protocol1
    from qdevices import FourPartyDevice
    from qdevices.randomness import Randomness
    from qdevices.sources import named_source

    start, rss_before = time.perf_counter(), _peak_rss_mib()
    result = run_protocol1(FourPartyDevice(0.0, seed=1), named_source("iid-high", eps,
                           Randomness(seed=2)), runs, delta=0.0, error=ERROR,
                           extractor=CyclicShiftExtractor(), output_bits=OUTPUT_BITS,
                           certificate="paper")
    elapsed = time.perf_counter() - start
    certificate = result.certificate
    print(f"  run eps={eps:g} n={runs:.3e}: status={result.status}, L_n={result.bell_test.bell_average}"
          f", output bits={result.output_bits}, wall={elapsed:.1f} s "
          f"({runs / elapsed:.3g} runs/s), peak RSS {rss_before:.0f} -> {_peak_rss_mib():.0f} MiB")
    print(f"    certificate: log2 d_comp p(ACC) <= {certificate.log2_error_bound:.4g}, "
          f"delta_Az={certificate.delta_az:.4g}, gamma={certificate.gamma:.6f}, "
          f"log2 delta_1={certificate.log2_delta1:.4g}, k_x={certificate.x_min_entropy}, "
          f"t bits={certificate.t_length}")
    if result.reason:
        print(f"    reason: {result.reason}")


def run() -> None:
    from protocols.amplification.protocol1 import CyclicShiftExtractor
    from protocols.amplification.certificate import plan_protocol1

    extractor = CyclicShiftExtractor()
    for eps in (0.01, 0.0):
        start = time.perf_counter()
        plan = plan_protocol1(OUTPUT_BITS, ERROR, eps, 0.0, extractor)
        print(f"plan eps={eps:g}: required n = {plan.required_runs} "
              f"({time.perf_counter() - start:.1f} s to plan)")
        if plan.reason:
            print(f"  {plan.reason}")
        runs = plan.required_runs
        if runs is None or runs > RUN_LIMIT:
            runs = int(float(os.environ.get("BELLBOX_BENCH_AMPLIFY_RUNS", FALLBACK_RUNS)))
        _timed_run(eps, runs)
