"""Randomness amplification (paper 004, Protocol I) against an adversarial Santha-Vazirani source.

The SV source is history-dependent and adversarial (strategy ``steer-untested``: within the
allowed bias it pushes the four-party settings towards the ones the Bell inequality does not
test). The planner first computes, without running anything, the smallest number of runs n
whose certificate bounds d_comp * p(ACC) by the requested error for 64 output bits; then
Protocol I runs the ideal four-party device with that n and outputs the bits only if the
certificate covers them. With --quick the run uses 10^5 runs instead and ends "not certified",
reporting the n that would certify.

This example uses paper 004's own chain (``certificate="paper"``); the library's default, the
improved chain (docs/amplification_improved_certificate.md), certifies the same 64 bits with
under a thousand runs (``bellbox amplify --plan --sv-eps 1e-6 --bits 64``).

eps is 1e-6: with the explicit equal-length two-source extractor used here, certification
needs eps below about 1.5e-5 (the extractor's second source, SV bits, loses log2(1 + 2 eps)
bits of min-entropy per bit); see the certificate's fields for the numbers.

Takes about 20 s (about 3 s with --quick).

    python examples/amplify_adversarial.py [--quick] [--seed 5]
"""

from __future__ import annotations

import argparse

from protocols.amplification.protocol1 import CyclicShiftExtractor, run_protocol1
from protocols.amplification.certificate import plan_protocol1
from qdevices import FourPartyDevice, Randomness
from qdevices.sources import named_source

EPS, BITS, ERROR, DELTA = 1e-6, 64, 2.0**-40, 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10^5 runs: ends 'not certified' (for CI)")
    parser.add_argument("--seed", type=int, default=5, help="seed of the emulation (results are marked not secure)")
    args = parser.parse_args()
    extractor = CyclicShiftExtractor()
    plan = plan_protocol1(BITS, ERROR, EPS, DELTA, extractor)
    print(f"planner: {BITS} bits at error 2^-40 with eps = {EPS:g} need n = {plan.required_runs} runs")
    runs = 100_000 if args.quick else plan.required_runs
    source = named_source("steer-untested", EPS, Randomness(seed=args.seed))
    result = run_protocol1(FourPartyDevice(noise=0.0, seed=args.seed), source, runs, DELTA, ERROR, extractor,
                           output_bits=BITS, certificate="paper")
    print(f"ran n = {runs} runs with the {source.name} source: L_n = {result.bell_test.bell_average:g}, "
          f"status {result.status}")
    if result.output is not None:
        print(f"output: {result.output_bits} bits, d_comp p(ACC) <= 2^{result.certificate.log2_error_bound:.2f}")
    else:
        print(f"no output: {result.reason}; required runs: {result.required_runs}")


if __name__ == "__main__":
    main()
