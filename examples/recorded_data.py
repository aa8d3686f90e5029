"""Post-process a recorded DI-QKD data file (the format lab data is converted to).

``examples/data/chained_M7_120k.npz`` holds 120,000 rounds of the chained Bell test with M = 7
(test bits i, j, settings x, y, outcomes a, b; README "Recorded data"), produced by an emulated
device with xi = 0. The script distills a key from it with OS randomness, exactly as
``bellbox qkd --records FILE`` does, and prints the summary. A file too short for a key ends in
an abort that says how many rounds would be needed (try ``examples/data/chained_M7_sample.csv``).

Takes about 2 s (the same with --quick).

    python examples/recorded_data.py [FILE] [--quick]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from protocols.qkd.protocol import QKDParameters, distill_key
from protocols.records import load_records
from qdevices import Randomness

DEFAULT = Path(__file__).parent / "data" / "chained_M7_120k.npz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--quick", action="store_true", help="accepted for uniformity; the run is already short")
    args = parser.parse_args()
    records = load_records(args.file)
    gamma = float(records.alice_test.mean())
    result = distill_key(records, QKDParameters(rounds=records.rounds, settings=records.settings, gamma=gamma), Randomness())
    print(f"{args.file.name}: {records.rounds} rounds, M = {records.settings}")
    print(f"  W-bar = {result.bell_value:.5f} over N_e = {result.estimation_rounds}, raw key N_r = {result.raw_key_rounds}")
    if result.success:
        print(f"  key: {result.key_length} bits (leaked {result.leaked_bits} in error correction), "
              f"eps + 2 eps_erco = {result.total_eps:.2g}")
    else:
        print(f"  aborted: {result.reason}")


if __name__ == "__main__":
    main()
