"""Protocol I on an emulated IBM device: calibrate, plan, run, certify (issue 10, item 5).

1. Calibration, never the protocol's own data: the backend's exact noisy outcome table
   (``fake-exact:NAME``, :mod:`qdevices.noisy_exact`) gives each setting's violation probability,
   and the largest expected Bell indicator under any eps-SV law of the settings
   (:mod:`protocols.amplification.calibration`).
2. The planner fixes ``delta`` (a completeness margin above that value) and the smallest ``n``
   certifying ``BITS`` bits at ``d_comp p(ACC) <= ERROR`` with the improved chain
   (docs/amplification_improved_certificate.md), comparing the cyclic shift and the short-seed
   polynomial hash.
3. The protocol runs ``n`` rounds on the same emulated device with settings from an eps-SV
   source, tests ``L_n <= delta``, and extracts with the extractor the certificate picked.

Default: 64 bits at 2^-40 from an eps = 0.01 source on fake-exact:marrakesh (about 2,300 runs).
``--quick`` (CI): 16 bits at 2^-20. Seeded, so the output is reproducible and marked not secure.
"""

from __future__ import annotations

import argparse

from protocols.amplification.calibration import calibrate, plan_from_calibration
from protocols.amplification.protocol1 import CyclicShiftExtractor, run_protocol1
from qdevices import FourPartyDevice, Randomness
from qdevices.sources import named_source

EPS = 0.01


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="16 bits at 2^-20 (CI)")
    parser.add_argument("--backend", default="fake-exact:marrakesh")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    bits, error = (16, 2.0**-20) if args.quick else (64, 2.0**-40)

    device = FourPartyDevice(0.0, backend=args.backend, seed=args.seed)
    calibrated = plan_from_calibration(calibrate(device, EPS), bits, error)
    c, plan = calibrated.calibration, calibrated.plan
    print(f"calibration ({c.method}) on {args.backend}: Bell average {c.uniform_bell_average:.5f}"
          f" (uniform settings), {c.worst_sv_bell_average:.5f} (worst eps-SV law)")
    print(f"plan: delta = {calibrated.delta:.5f}, n = {plan.required_runs} runs for {bits} bits "
          f"at {error:.3g}; extractor {plan.extractor} (n by extractor: "
          f"{dict(plan.runs_by_extractor)})")
    if plan.required_runs is None:
        print(f"not certifiable: {plan.reason}")
        return
    source = named_source("iid-high", EPS, Randomness(seed=args.seed + 1))
    result = run_protocol1(device, source, plan.required_runs, calibrated.delta, error,
                           CyclicShiftExtractor(), output_bits=bits)
    certificate = result.certificate
    print(f"run: L_n = {result.bell_test.bell_average:.5f} ({result.bell_test.violations} "
          f"violations) <= delta: {result.bell_test.accepted}")
    print(f"status: {result.status}; d_comp p(ACC) <= 2^{certificate.log2_error_bound:.2f} "
          f"({result.adversary_model}; {result.theorem})")
    print(f"  min-entropy G = n f(delta + s) = {certificate.x_min_entropy:.1f} bits, "
          f"s = {certificate.s:.4g}, extractor {certificate.extractor}")
    if result.output is not None:
        print(f"  {result.output_bits} bits: {''.join(map(str, result.output))}")


if __name__ == "__main__":
    main()
