"""``bellbox lp-bound``: the Lemma 11 linear program of paper 004 for one Bell-sum bound delta.

Prints the largest ``P(x*|u*)`` over four-party no-signaling boxes whose Bell sum of eq. (5)
is at most delta (``max_probability``, solved with scipy HiGHS) and the paper's bound
``(1 + 2 delta) / 3`` of eq. (42) (``paper_bound``).
"""

from __future__ import annotations

import argparse

from . import EXIT_OK
from .output import print_json


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "lp-bound", help="largest output probability of a no-signaling box with Bell sum <= delta")
    parser.add_argument("--delta", type=_non_negative, required=True, metavar="D",
                        help="bound on the Bell sum of paper 004 eq. (5) (not divided by 16)")
    parser.add_argument("--exhaustive", action="store_true",
                        help="solve all 256 LPs instead of one per symmetry orbit")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from protocols.bell.four_party import lemma11_bound

    bound = lemma11_bound(args.delta, exhaustive=args.exhaustive)
    if args.json:
        print_json(bound.to_dict())
        return EXIT_OK
    print(f"Bell sum bound delta          : {bound.delta:g}  (paper 004 eq. (41), B.P <= delta)")
    print(f"LP max P(x*|u*) (HiGHS)       : {bound.max_probability:.10f}"
          f"  at u*={bound.argmax_setting:04b}, x*={bound.argmax_output:04b}")
    print(f"paper bound (1 + 2 delta) / 3 : {bound.paper_bound:.10f}  (eq. (42))")
    print(f"bound used by certificates    : {bound.certified:.10f}")
    return EXIT_OK
