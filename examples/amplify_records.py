"""Post-process recorded four-party runs with Protocol I of paper 004 (randomness amplification).

``examples/data/four_party_20k.npz`` holds 20,000 runs of the four-party Bell test (settings
``u``, outcomes ``x``, and the SV bits ``t`` for the extractor; format in
:mod:`protocols.amplification.records`), made by an emulated device with white noise
xi = 0.01 and an SV source with bias +eps, eps = 1e-6 (``--make`` rewrites it). The script
runs steps 2-3 of Protocol I on it, exactly as ``bellbox amplify --records FILE --sv-eps 1e-6
--noise 0.01`` does: the Bell test ``L_n <= delta``, then the finite-n certificate. 20,000 runs
pass the test but are far too few for a certificate at error 2^-40, so no bit is output, and
the result says how many runs would be (about 3e6 for one bit).

Takes about 3 s (the same with --quick).

    python examples/amplify_records.py [FILE] [--quick] [--make]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from protocols.amplification.protocol1 import CyclicShiftExtractor, default_delta
from protocols.amplification.records import (AmplificationRecords, load_amplification_records,
                                             post_process_records)

DEFAULT = Path(__file__).parent / "data" / "four_party_20k.npz"
EPS, NOISE, RUNS, ERROR = 1e-6, 0.01, 20_000, 2.0**-40


def make(path: Path) -> None:
    """Record ``RUNS`` runs: settings, then ``t``, from one SV source; outcomes from the device."""
    from qdevices import FourPartyDevice
    from qdevices.randomness import Randomness
    from qdevices.sources import named_source

    source = named_source("iid-high", EPS, Randomness(seed=2026))
    settings = source.settings(RUNS)
    outputs = FourPartyDevice(NOISE, seed=2027).measure(settings)
    t = source.bits(CyclicShiftExtractor().t_length(4 * RUNS))
    AmplificationRecords(settings, outputs, t).save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--quick", action="store_true",
                        help="accepted for uniformity; the run is already short")
    parser.add_argument("--make", action="store_true", help="first (re)write FILE")
    args = parser.parse_args()
    if args.make:
        make(args.file)
    records = load_amplification_records(args.file)
    delta = default_delta(NOISE, EPS)
    test = None
    for chain in ("paper", "improved"):
        result = post_process_records(records, EPS, delta, ERROR, CyclicShiftExtractor(),
                                      label=args.file.name, certificate=chain)
        if test is None:
            test = result.bell_test
            print(f"{args.file.name}: {records.runs} runs, claimed eps = {EPS:g}")
            print(f"  L_n = {test.bell_average:.5f} ({test.violations} violations), delta = "
                  f"{delta:.5f}: {'accepted' if test.accepted else 'rejected'}")
        print(f"  {chain} chain: {result.status}; d_comp p(ACC) <= "
              f"2^{result.certificate.log2_error_bound:.1f} for {result.certificate.output_bits} "
              f"bit(s) ({result.certificate.extractor})")
        if result.output is not None:
            print(f"    {result.output_bits} certified bits: {''.join(map(str, result.output))}")
        else:
            print(f"    no output; runs needed for {max(1, result.certificate.output_bits)} bit(s)"
                  f" at error {ERROR:.3g}: {result.required_runs}")

if __name__ == "__main__":
    main()
