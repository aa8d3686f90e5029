"""``bellbox rate``: key rate, expected key length and noise threshold of DI-QKD (paper 000).

* ``bellbox rate --settings M --noise XI``: the gamma-optimised asymptotic rate of eq. (21)
  (minimum over theta, see ``protocols.qkd.keyrate``) for the noisy EPR pair of Sec. III C.
* ``--settings auto``: also optimise M over 2..40.
* ``--rounds N [--eps E]``: also the expected finite key length of eq. (17) at N rounds (an
  expectation for honest devices, not a certificate); when it is zero, the number of rounds
  that would give a key.
* ``--threshold``: the noise level above which the asymptotic rate is zero (rounded down).
* ``--adversary no-signaling|quantum`` (default no-signaling, the paper's eqs. 17, 21):
  ``quantum`` uses the Appendix A key length of docs/quantum_chained_key.md
  (``protocols.qkd.quantum_keyrate``); both assume no-signalling between all 2N measurements.
* ``--bell-value W --qber Q --rounds N``: observed statistics instead of ``--noise``: the
  asymptotic rate and the key length at N rounds (planned counts, Shannon-limit leak) for the
  observed W-bar and QBER, both in [0, 1/2].
* ``--protocol chsh`` (default ``chained``, the paper's protocol above): the CHSH protocol with
  the entropy-accumulation key of docs/chsh_entropy_accumulation.md
  (``protocols.qkd.chsh_keyrate``), quantum adversary only (``--adversary no-signaling`` is an
  error). ``--noise XI``: the Pironio et al. (2009) asymptotic rate (optimal gamma -> 0) and,
  with ``--rounds N``, the key a run of ``bellbox qkd --protocol chsh`` would certify (plan of
  gamma, tangent point, threshold and eps split; error correction as in the run);
  ``--threshold``: the noise (and QBER) above which the asymptotic rate is zero;
  ``--chsh S --qber Q [--rounds N]``: observed statistics, S in [0, 4], Q in [0, 1/2]
  (thresholds at the observed values, planned counts, Shannon-limit leak).

Exit status: 0 when a key is possible, 3 when the rate (or the expected key length) is zero,
2 on bad input.
"""

from __future__ import annotations

import argparse

from . import EXIT_NO_OUTPUT, EXIT_OK
from .arguments import open_unit_interval, positive_int, unit_interval
from .output import print_json

DEFAULT_EPS = 1e-9
MAX_AUTO_SETTINGS = 40


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
    parser.add_argument("--protocol", choices=("chained", "chsh"), default="chained",
                        help="chained (paper 000 Sec. III A; default) or chsh (CHSH protocol with an "
                        "entropy-accumulation key, quantum adversary, docs/chsh_entropy_accumulation.md)")
    parser.add_argument("--settings", type=settings_argument, metavar="M|auto",
                        help="number of Alice's settings M >= 2, or 'auto' to optimise M in 2..40 "
                        "(required for --protocol chained)")
    parser.add_argument("--noise", type=unit_interval, metavar="XI",
                        help="white-noise fraction xi in [0, 1] of eq. (22)")
    parser.add_argument("--gamma", type=open_unit_interval, metavar="G",
                        help="test-round probability gamma in (0, 1) (default: optimised)")
    parser.add_argument("--rounds", type=positive_int, metavar="N",
                        help="also give the expected finite key length at N rounds")
    parser.add_argument("--eps", type=open_unit_interval, default=DEFAULT_EPS, metavar="E",
                        help=f"secrecy parameter eps in (0, 1) of eq. (17) (default {DEFAULT_EPS:g})")
    parser.add_argument("--adversary", choices=("no-signaling", "quantum"), default=None,
                        help="adversary model: no-signaling (paper 000 eqs. 17, 21; default for chained) or "
                        "quantum (Appendix A, docs/quantum_chained_key.md; the only model of chsh)")
    parser.add_argument("--chsh", type=float, metavar="S",
                        help="observed CHSH value S in [0, 4] (--protocol chsh, with --qber)")
    parser.add_argument("--bell-value", type=float, metavar="W",
                        help="observed Bell value W-bar in [0, 1/2] (with --qber, instead of --noise)")
    parser.add_argument("--qber", type=float, metavar="Q",
                        help="observed key-round error rate in [0, 1/2] (with --bell-value)")
    parser.add_argument("--threshold", action="store_true",
                        help="print the noise level above which the asymptotic rate is zero")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.protocol == "chsh":
        return _chsh(args)
    if args.chsh is not None:
        raise ValueError("--chsh S needs --protocol chsh (for the chained protocol give --bell-value W)")
    if args.settings is None:
        raise ValueError("--settings is required for --protocol chained: an integer M >= 2 or 'auto'")
    if args.adversary is None:
        args.adversary = "no-signaling"
    observed = args.bell_value is not None or args.qber is not None
    if args.threshold:
        if args.settings == "auto":
            raise ValueError("--settings='auto' cannot be combined with --threshold; give an integer M >= 2")
        if args.noise is not None or args.rounds is not None or args.gamma is not None or observed:
            raise ValueError("--threshold takes no --noise, --rounds, --gamma, --bell-value or --qber")
        return _threshold(args)
    if observed:
        return _observed(args)
    if args.noise is None:
        raise ValueError("--noise is required: a number in [0, 1] (or use --threshold, or --bell-value "
                         "with --qber)")
    if args.adversary == "quantum":
        return _quantum_rate(args)
    return _rate(args)


def _threshold(args: argparse.Namespace) -> int:
    from protocols.qkd.keyrate import asymptotic_rate, noise_threshold
    from protocols.qkd.quantum_keyrate import asymptotic_quantum_rate, quantum_noise_threshold

    if args.adversary == "quantum":
        threshold = quantum_noise_threshold(settings=args.settings)
        keyless = asymptotic_quantum_rate(settings=args.settings, noise=0.0).signed_rate <= 0.0
    else:
        threshold = noise_threshold(settings=args.settings)
        keyless = asymptotic_rate(settings=args.settings, noise=0.0).signed_rate <= 0.0
    if args.json:
        print_json({"settings": args.settings, "adversary_model": args.adversary, "noise_threshold": threshold,
                    "key_at_zero_noise": not keyless})
    elif keyless:
        rate = "the quantum-adversary rate" if args.adversary == "quantum" else "eq. 21"
        print(f"M = {args.settings}: no key even without noise ({rate} is <= 0 at xi = 0)")
    else:
        source = ("Appendix A key of docs/quantum_chained_key.md with eq. 26; quantum adversary"
                  if args.adversary == "quantum" else "eq. 21 with eq. 26")
        print(f"M = {args.settings}: asymptotic key rate is zero for noise xi > {threshold:.6f}"
              f" (rounded down; {source})")
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
        "adversary_model": args.adversary,
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


def _quantum_rate(args: argparse.Namespace) -> int:
    """``--adversary quantum --noise XI``: Appendix A rate and expected key (docs/quantum_chained_key.md)."""
    from protocols.qkd.keyrate import honest_bell_value, quantum_error_rate
    from protocols.qkd.quantum_keyrate import asymptotic_quantum_rate

    if args.settings == "auto":
        candidates = (asymptotic_quantum_rate(settings=m, noise=args.noise)
                      for m in range(2, MAX_AUTO_SETTINGS + 1))
        best = max(candidates,
                   key=lambda result: (result.signed_rate, -result.settings))
        settings = best.settings
    else:
        settings = args.settings
    bell_value = honest_bell_value(settings, args.noise)
    payload: dict[str, object] = {"settings": settings, "noise": args.noise}
    has_key = _statistics_payload(args, payload, settings, bell_value, quantum_error_rate(args.noise))
    return _emit(args, payload, has_key)


def _observed(args: argparse.Namespace) -> int:
    """``--bell-value W --qber Q --rounds N``: rate and key length for observed statistics."""
    from protocols.qkd.keyrate import KeyRateInputError

    if args.bell_value is None or args.qber is None:
        raise KeyRateInputError("--bell-value and --qber must be given together (each in [0, 1/2])")
    if args.noise is not None:
        raise KeyRateInputError("--noise cannot be combined with --bell-value/--qber")
    if args.settings == "auto":
        raise KeyRateInputError(
            "--settings='auto' cannot be combined with --bell-value; give an integer M >= 2")
    if args.rounds is None:
        raise KeyRateInputError("--bell-value/--qber need --rounds N (an integer >= 1)")
    payload: dict[str, object] = {"settings": args.settings}
    has_key = _statistics_payload(args, payload, args.settings, args.bell_value, args.qber)
    return _emit(args, payload, has_key)


def _statistics_payload(args: argparse.Namespace, payload: dict[str, object], settings: int,
                        bell_value: float, error_rate: float) -> bool:
    """Fill ``payload`` with the rate (and key at ``--rounds``) of ``args.adversary``; True if a key."""
    from protocols.qkd.quantum_keyrate import (
        key_length_from_statistics,
        rate_from_statistics,
        rounds_for_key_from_statistics,
    )

    rate = rate_from_statistics(settings=settings, bell_value=bell_value, error_rate=error_rate,
                                gamma=args.gamma, adversary=args.adversary)
    payload.update({
        "adversary_model": args.adversary,
        "gamma": rate.gamma,
        "rate": rate.rate,
        "signed_rate": rate.signed_rate,
        "theta": rate.theta,
        "bell_value": bell_value,
        "error_rate": error_rate,
        "source": rate.source,
        "assumptions": rate.assumptions,
    })
    if args.rounds is None:
        return rate.rate > 0.0
    length = key_length_from_statistics(settings=settings, bell_value=bell_value, error_rate=error_rate,
                                        rounds=args.rounds, eps=args.eps, adversary=args.adversary,
                                        gamma=args.gamma)
    payload.update({
        "rounds": args.rounds,
        "eps": args.eps,
        "key_length": length.bits,
        "key_length_gamma": length.gamma,
        "estimation_rounds": length.estimation_rounds,
        "raw_key_rounds": length.raw_key_rounds,
        "leaked_bits": length.leaked_bits,
        "key_length_source": length.source,
        "key_length_is_expectation": True,
    })
    if length.bits == 0:
        payload["rounds_for_key"] = (None if rate.rate <= 0.0 else rounds_for_key_from_statistics(
            settings=settings, bell_value=bell_value, error_rate=error_rate, eps=args.eps,
            adversary=args.adversary))
    return length.bits > 0


def _emit(args: argparse.Namespace, payload: dict[str, object], has_key: bool) -> int:
    if args.json:
        print_json(payload)
    else:
        _print_statistics(payload)
    return EXIT_OK if has_key else EXIT_NO_OUTPUT


def _print_statistics(payload: dict[str, object]) -> None:
    print(f"settings M          : {payload['settings']}")
    print(f"adversary           : {payload['adversary_model']}  ({payload['assumptions']})")
    noise = f"noise xi = {payload['noise']:g}, " if "noise" in payload else ""
    print(f"statistics          : {noise}W-bar = {payload['bell_value']:.6f}, "
          f"QBER = {payload['error_rate']:g}")
    print(f"optimal gamma       : {payload['gamma']:.4f}")
    print(f"asymptotic rate     : {payload['rate']:.6g} bits/round  ({payload['source']})")
    if "key_length" not in payload:
        return
    print(f"expected key length : {payload['key_length']} bits at N = {payload['rounds']}, "
          f"eps = {payload['eps']:g}  (an expectation: planned counts, Shannon-limit leak; "
          f"gamma = {payload['key_length_gamma']:.4f})")
    if payload["key_length"] == 0:
        needed = payload["rounds_for_key"]
        print("no key expected at this N; " + (
            "no N gives a key for these statistics" if needed is None
            else f"about N >= {needed} rounds would"))


# --------------------------------------------------------------------------------------------
# --protocol chsh (protocols.qkd.chsh_keyrate, docs/chsh_entropy_accumulation.md)


def _chsh(args: argparse.Namespace) -> int:
    """``--protocol chsh``: check the options, then the threshold, noise or statistics mode."""
    if args.adversary == "no-signaling":
        raise ValueError("--protocol chsh supports --adversary quantum only (its key rests on entropy "
                         "accumulation against quantum adversaries); use --protocol chained for no-signaling")
    for name, option in (("settings", "--settings"), ("bell_value", "--bell-value")):
        if getattr(args, name) is not None:
            raise ValueError(f"{option} does not apply to --protocol chsh (Alice has 2 settings, Bob 3)")
    if args.chsh is not None and not 0.0 <= args.chsh <= 4.0:
        raise ValueError(f"--chsh must be a CHSH value S in [0, 4], got {args.chsh}")
    if args.qber is not None and not 0.0 <= args.qber <= 0.5:
        raise ValueError(f"--qber must be in [0, 1/2], got {args.qber}")
    observed = args.chsh is not None or args.qber is not None
    if args.threshold:
        if args.noise is not None or args.rounds is not None or args.gamma is not None or observed:
            raise ValueError("--threshold takes no --noise, --rounds, --gamma, --chsh or --qber")
        return _chsh_threshold(args)
    if observed:
        if args.chsh is None or args.qber is None:
            raise ValueError("--chsh and --qber must be given together (S in [0, 4], QBER in [0, 1/2])")
        if args.noise is not None:
            raise ValueError("--noise cannot be combined with --chsh/--qber")
        return _chsh_statistics(args)
    if args.noise is None:
        raise ValueError("--noise is required: a number in [0, 1] (or use --threshold, or --chsh with --qber)")
    return _chsh_noise(args)


def _chsh_common(payload: dict[str, object]) -> dict[str, object]:
    from protocols.qkd.chsh_keyrate import ADVERSARY, DEVICE_ASSUMPTION, SECOND_ORDER_THEOREM, THEOREM

    # a key length below replaces this by the statement its plan used
    return {"protocol": "chsh", "adversary_model": ADVERSARY, **payload,
            "theorem": f"the larger certified key of (1) {THEOREM}; (2) {SECOND_ORDER_THEOREM}",
            "device_assumption": DEVICE_ASSUMPTION}


def _chsh_threshold(args: argparse.Namespace) -> int:
    from protocols.qkd.chsh_keyrate import chsh_value, honest_statistics, noise_threshold

    noise = noise_threshold()
    winning, qber = honest_statistics(noise)
    payload = _chsh_common({"noise_threshold": noise, "qber_threshold": qber,
                            "chsh_value_at_threshold": chsh_value(winning)})
    if args.json:
        print_json(payload)
    else:
        print(f"CHSH protocol: asymptotic key rate is zero for noise xi > {noise:.6f} (QBER > {qber:.6f}, "
              f"S < {chsh_value(winning):.4f}; rounded down; Pironio et al. 2009, quantum adversary)")
    return EXIT_OK


def _chsh_key_payload(plan, extra: dict[str, object]) -> dict[str, object]:
    return {"rounds": plan.rounds, "eps": plan.eps_ea + 2 * plan.eps_smooth + plan.eps_pa,
            "key_length": plan.bits, "key_length_gamma": plan.gamma, "tangent_point": plan.tangent_point,
            "threshold": plan.threshold, "test_round_cap": plan.test_round_cap, "leaked_bits": plan.leaked_bits,
            "key_length_terms": plan.key.to_dict(), "theorem": plan.key.theorem, **extra}


def _chsh_noise(args: argparse.Namespace) -> int:
    """``--noise XI [--rounds N]``: asymptotic rate and the key a run would certify."""
    from protocols.qkd.chsh import CHSHParameters
    from protocols.qkd.chsh_keyrate import honest_rate, minimum_rounds

    rate = honest_rate(args.noise)
    payload = _chsh_common({"noise": args.noise, **rate.to_dict()})
    has_key = rate.rate > 0.0
    if args.rounds is not None:
        gamma = "auto" if args.gamma is None else args.gamma
        params = CHSHParameters(rounds=args.rounds, noise=args.noise, eps=args.eps, gamma=gamma)
        payload.update(_chsh_key_payload(params.plan, {"key_length_is_expectation": False,
                                                       "eps_erco": params.eps_erco,
                                                       "design_error_rate": params.design_error_rate}))
        has_key = params.plan.bits > 0
        if not has_key:
            payload["rounds_for_key"] = None if rate.rate <= 0.0 else minimum_rounds(
                lambda n: CHSHParameters(rounds=n, noise=args.noise, eps=args.eps, gamma=gamma).plan.bits)
    return _chsh_emit(args, payload, has_key)


def _chsh_statistics(args: argparse.Namespace) -> int:
    """``--chsh S --qber Q [--rounds N]``: rate and key length for observed statistics."""
    from protocols.qkd.chsh_keyrate import asymptotic_rate, key_from_statistics, minimum_rounds, winning_probability
    from protocols.qkd.reconciliation import tag_length

    winning = winning_probability(args.chsh)
    rate = asymptotic_rate(winning=winning, qber=args.qber)
    payload = _chsh_common(rate.to_dict())
    has_key = rate.rate > 0.0
    if args.rounds is not None:
        tag = tag_length(1e-10)

        def plan_at(rounds: int):
            return key_from_statistics(rounds=rounds, winning=winning, qber=args.qber, eps=args.eps,
                                       tag_bits=tag, gamma=args.gamma)

        plan = plan_at(args.rounds)
        payload.update(_chsh_key_payload(plan, {"key_length_is_expectation": True,
                                                "leak_model": "Shannon limit (1 - gamma) N h(Q) + tag",
                                                "clamped": plan.key.clamped, "note": plan.key.note}))
        has_key = plan.bits > 0
        if not has_key:
            payload["rounds_for_key"] = None if rate.rate <= 0.0 else minimum_rounds(lambda n: plan_at(n).bits)
    return _chsh_emit(args, payload, has_key)


def _chsh_emit(args: argparse.Namespace, payload: dict[str, object], has_key: bool) -> int:
    if args.json:
        print_json(payload)
        return EXIT_OK if has_key else EXIT_NO_OUTPUT
    print("protocol            : chsh (entropy accumulation; adversary quantum)")
    if "noise" in payload:
        print(f"noise xi            : {payload['noise']:g}")
    print(f"statistics          : S = {payload['chsh_value']:.4f} (winning probability "
          f"{payload['winning_probability']:.6f}), QBER = {payload['qber']:g}"
          + ("  [beyond quantum: clamped to the Tsirelson bound]" if payload["clamped"] else ""))
    print(f"asymptotic rate     : {payload['rate']:.6g} bits/round  ({payload['source']}; optimal gamma -> 0)")
    if "key_length" in payload:
        kind = "an expectation: thresholds at the observed values, Shannon-limit leak" \
            if payload["key_length_is_expectation"] else "certified for an accepted run with this plan"
        print(f"key length          : {payload['key_length']} bits at N = {payload['rounds']}, "
              f"eps = {payload['eps']:.3g}  ({kind}; gamma = {payload['key_length_gamma']:.4f})")
        if payload["key_length"] == 0:
            needed = payload["rounds_for_key"]
            print("no key at this N; " + ("no N gives a key for these statistics" if needed is None
                                          else f"about N >= {needed} rounds would"))
    print(f"theorem             : {payload['theorem']}")
    return EXIT_OK if has_key else EXIT_NO_OUTPUT
