"""Reproduce paper 000's Fig. 2 (DI-QKD key rate against noise) and paper 004's Fig. 6
(largest tolerated Bell violation delta against the SV parameter eps) as PNG files.

Takes about 15 s (about 3 s with --quick, which draws fewer points).

    python examples/reproduce_figures.py [--quick] [--out DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from protocols.cli import main as bellbox


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer points per curve (for CI)")
    parser.add_argument("--out", type=Path, default=Path("."), help="directory for the PNG files")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    points = ["--points", "7"] if args.quick else []
    bellbox(["plot", "rate", "--out", str(args.out / "paper000_fig2.png"), *points])
    bellbox(["plot", "tradeoff", "--out", str(args.out / "paper004_fig6.png"), *points])


if __name__ == "__main__":
    main()
