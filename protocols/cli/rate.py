"""``bellbox rate``: key rate, expected key length and noise threshold of DI-QKD (paper 000).

* ``bellbox rate --settings M --noise XI``: the gamma-optimised asymptotic rate of eq. (21)
  (minimum over theta, see ``protocols.qkd.keyrate``) for the noisy EPR pair of Sec. III C.
* ``--settings auto``: also optimise M over 2..40.
* ``--rounds N [--eps E]``: also the expected finite key length of eq. (17) at N rounds (an
  expectation for honest devices, not a certificate); when it is zero, the number of rounds
  that would give a key.
* ``--threshold``: the noise level above which the asymptotic rate is zero (rounded down).

Exit status: 0 when a key is possible, 3 when the rate (or the expected key length) is zero,
2 on bad input.
"""

from __future__ import annotations

import argparse

from . import EXIT_NO_OUTPUT, EXIT_OK
from .arguments import open_unit_interval, positive_int, unit_interval
from .output import print_json

DEFAULT_EPS = 1e-9


def settings_argument(text: str) -> int | str:
    """``auto`` or an integer M >= 2."""
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 2 or 'auto', got {text!r}") from None
    if value < 2:
        raise argparse.ArgumentTypeError(f"expected an integer >= 2 or 'auto', got {text!r}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "rate",
        help="DI-QKD key rate, expected key length and noise threshold (paper 000)",
        description="Asymptotic key rate (eq. 21), expected finite key length (eq. 17) and noise "
        "threshold of the DI-QKD protocol of paper 000 with the noisy EPR pair of Sec. III C. "
        "Exit status 3 when no key is possible.",
    )
    parser.add_argument("--settings", type=settings_argument, required=True, metavar="M|auto",
                        help="number of Alice's settings M >= 2, or 'auto' to optimise M in 2..40")
    parser.add_argument("--noise", type=unit_interval, metavar="XI",
                        help="white-noise fraction xi in [0, 1] of eq. (22)")
    parser.add_argument("--gamma", type=open_unit_interval, metavar="G",
                        help="test-round probability gamma in (0, 1) (default: optimised)")
    parser.add_argument("--rounds", type=positive_int, metavar="N",
                        help="also give the expected finite key length at N rounds")
    parser.add_argument("--eps", type=open_unit_interval, default=DEFAULT_EPS, metavar="E",
                        help=f"secrecy parameter eps in (0, 1) of eq. (17) (default {DEFAULT_EPS:g})")
    parser.add_argument("--threshold", action="store_true",
                        help="print the noise level above which the asymptotic rate is zero")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.threshold:
        if args.settings == "auto":
            raise ValueError("--settings='auto' cannot be combined with --threshold; give an integer M >= 2")
        if args.noise is not None or args.rounds is not None or args.gamma is not None:
            raise ValueError("--threshold takes no --noise, --rounds or --gamma")
        return _threshold(args)
    if args.noise is None:
        raise ValueError("--noise is required: a number in [0, 1] (or use --threshold)")
    return _rate(args)


def _threshold(args: argparse.Namespace) -> int:
    from protocols.qkd.keyrate import asymptotic_rate, noise_threshold

    threshold = noise_threshold(settings=args.settings)
    keyless = asymptotic_rate(settings=args.settings, noise=0.0).signed_rate <= 0.0
    if args.json:
        print_json({"settings": args.settings, "noise_threshold": threshold, "key_at_zero_noise": not keyless})
    elif keyless:
        print(f"M = {args.settings}: no key even without noise (eq. 21 is <= 0 at xi = 0)")
    else:
        print(f"M = {args.settings}: asymptotic key rate is zero for noise xi > {threshold:.6f}"
              " (rounded down; eq. 21 with eq. 26)")
    return EXIT_NO_OUTPUT if keyless else EXIT_OK


def _rate(args: argparse.Namespace) -> int:
    from protocols.qkd.keyrate import asymptotic_rate, expected_key_length, optimal_settings, rounds_for_key

    if args.settings == "auto":
        best = optimal_settings(noise=args.noise)
        result = best if args.gamma is None else asymptotic_rate(
            settings=best.settings, noise=args.noise, gamma=args.gamma)
    else:
        result = asymptotic_rate(settings=args.settings, noise=args.noise, gamma=args.gamma)
    payload: dict[str, object] = {
        "settings": result.settings,
        "noise": result.noise,
        "gamma": result.gamma,
        "rate": result.rate,
        "signed_rate": result.signed_rate,
        "theta": result.theta,
        "bell_value": result.bell_value,
        "error_rate": result.error_rate,
        "source": result.source,
    }
    has_key = result.rate > 0.0
    if args.rounds is not None:
        expected = expected_key_length(
            settings=result.settings, noise=args.noise, rounds=args.rounds, eps=args.eps, gamma=args.gamma)
        payload.update({
            "rounds": args.rounds,
            "eps": args.eps,
            "key_length": expected.bits,
            "key_length_gamma": expected.gamma,
            "estimation_rounds": expected.key_length.estimation_rounds,
            "raw_key_rounds": expected.key_length.raw_key_rounds,
            "leaked_bits": expected.key_length.leakage_term,
            "key_length_is_expectation": True,
        })
        has_key = expected.bits > 0
        if not has_key:
            payload["rounds_for_key"] = rounds_for_key(settings=result.settings, noise=args.noise, eps=args.eps)
    if args.json:
        print_json(payload)
    else:
        _print_human(payload)
    return EXIT_OK if has_key else EXIT_NO_OUTPUT


def _print_human(payload: dict[str, object]) -> None:
    print(f"settings M          : {payload['settings']}")
    print(f"noise xi            : {payload['noise']:g}  (<W> = {payload['bell_value']:.6f}, "
          f"lambda = {payload['error_rate']:g})")
    print(f"optimal gamma       : {payload['gamma']:.4f}")
    print(f"asymptotic rate     : {payload['rate']:.6g} bits/round  (eq. 21, min over theta)")
    if "key_length" not in payload:
        return
    print(f"expected key length : {payload['key_length']} bits at N = {payload['rounds']}, "
          f"eps = {payload['eps']:g}  (eq. 17; an expectation, gamma = {payload['key_length_gamma']:.4f})")
    if payload["key_length"] == 0:
        needed = payload["rounds_for_key"]
        print("no key expected at this N; " + (
            "no N gives a key at this noise" if needed is None else f"about N >= {needed} rounds would"))
