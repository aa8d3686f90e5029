"""``bellbox devices``: run a device on uniformly random settings and print its Bell statistics.

Chained device: ``<W>`` over the support of ``Q`` (paper 000 eqs. (4)-(6)) and the error rate on
the key pair ``(0, M)``, each with the ideal value of eq. (26) and ``xi/2``. Four-party device:
the Bell sum of paper 004 eq. (5), estimated as the sum over settings of the frequency of
violating outcomes, with its ideal value ``4 xi``.

Both reports carry the no-signalling test of :mod:`protocols.bell.signalling` on the same
rounds (chi-square homogeneity of each party's outcomes across the other parties' settings,
Bonferroni-corrected smallest p-value, flagged at ``SIGNALLING_SIGNIFICANCE``). The protocols'
certificates assume no-signalling between the parties; an emulation satisfies it by
construction, but on one chip (fake or real IBM backend) nothing enforces it, so this is the
check a user can make of a device before trusting a Bell value from it.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from . import EXIT_OK
from .arguments import add_backend_argument, positive_int, unit_interval
from .output import print_json
from .run_control import add_run_control_arguments, restore_run_arguments, run_control

#: Significance level at which the no-signalling test flags a device as signalling.
SIGNALLING_SIGNIFICANCE = 1e-3

#: Options that define a device run; a checkpoint stores them and ``--resume`` restores them.
RUN_OPTIONS = ("kind", "settings", "noise", "rounds", "backend", "seed")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("devices", help="run a device and print its measured Bell statistics")
    parser.add_argument("--kind", choices=("chained", "four-party"), default="chained",
                        help="chained Bell device of paper 000 (default) or four-party device of paper 004")
    parser.add_argument("--settings", type=positive_int, default=7, metavar="M",
                        help="number of Alice's settings M >= 2 of the chained device (default 7)")
    parser.add_argument("--noise", type=unit_interval, default=0.0, metavar="XI",
                        help="white-noise fraction xi in [0, 1] (default 0)")
    parser.add_argument("--rounds", type=positive_int, default=10**6, metavar="N",
                        help="number of rounds (default 10^6)")
    add_backend_argument(parser)
    add_run_control_arguments(parser)
    parser.add_argument("--seed", type=int, default=None, help="seed the device and the settings")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


def _uniform_settings(counts: tuple[int, ...], rounds: int, seed: int | None) -> np.ndarray:
    """Uniform settings from protocol randomness (a stream independent of the device's)."""
    from qdevices import Randomness

    randomness = Randomness(seed)
    return np.stack([randomness.integers(c, rounds) for c in counts], axis=1)


def _measure(device, args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, dict]:
    """Uniform settings measured in jobs (checkpoint/resume as the options say), and the run summary."""
    from qdevices.jobs import measure_in_jobs

    inputs = _uniform_settings(device.setting_counts, args.rounds, args.seed)
    run = measure_in_jobs(device, inputs, run_control(args, RUN_OPTIONS))
    return run.inputs, run.outputs, run.to_dict()


def signalling_report(inputs: np.ndarray, outputs: np.ndarray, setting_counts: tuple[int, ...]) -> dict:
    """The no-signalling test of the run's rounds (:func:`protocols.bell.signalling.signalling_test`)."""
    from protocols.bell.signalling import signalling_test

    test = signalling_test(inputs, outputs, setting_counts)
    tested = test.tests > 0
    return {
        "p_value": float(test.p_value) if tested else None,
        "tests": test.tests,
        "significance": SIGNALLING_SIGNIFICANCE,
        "signals": bool(test.signals(SIGNALLING_SIGNIFICANCE)) if tested else None,
        "worst_party": test.worst_party if tested else None,
        "worst_setting": test.worst_setting if tested else None,
        "method": "chi-square homogeneity per party and setting, Bonferroni-corrected (protocols.bell.signalling)",
    }


def _chained_report(args: argparse.Namespace) -> dict:
    from qdevices import ChainedBellDevice
    from protocols.bell.chained import chained_statistics, quantum_bell_value

    device = ChainedBellDevice(args.settings, args.noise, backend=args.backend, seed=args.seed)
    inputs, outputs, device_run = _measure(device, args)
    stats = chained_statistics(inputs, outputs, args.settings)
    return {
        "device": "chained",
        "settings": args.settings,
        "noise": args.noise,
        "backend": device.backend_name,
        "rounds": args.rounds,
        "bell_value": stats.bell_value,
        "bell_value_standard_error": stats.bell_standard_error,
        "bell_value_ideal": quantum_bell_value(args.settings, args.noise),
        "local_bound": stats.local_bound,
        "bell_rounds": stats.bell_rounds,
        "key_error_rate": stats.key_error_rate,
        "key_error_rate_standard_error": stats.key_error_standard_error,
        "key_error_rate_ideal": args.noise / 2,
        "key_rounds": stats.key_rounds,
        "no_signalling_test": signalling_report(inputs, outputs, device.setting_counts),
        "device_run": device_run,
    }


def estimated_bell_sum(inputs: np.ndarray, outputs: np.ndarray) -> float:
    """Sum over the 16 settings of the frequency of ``B(x, u) = 1`` (paper 004 eq. (5))."""
    from protocols.bell.four_party import bell_indicator, to_index

    setting = to_index(inputs)
    violations = np.bincount(setting, weights=bell_indicator(outputs, inputs), minlength=16)
    counts = np.bincount(setting, minlength=16)
    if np.any(counts == 0):
        raise ValueError("rounds: too few rounds to visit all 16 settings; use --rounds >= 1000")
    return float((violations / counts).sum())


def _four_party_report(args: argparse.Namespace) -> dict:
    from qdevices import FourPartyDevice

    device = FourPartyDevice(args.noise, backend=args.backend, seed=args.seed)
    inputs, outputs, device_run = _measure(device, args)
    return {
        "device": "four-party",
        "noise": args.noise,
        "backend": device.backend_name,
        "rounds": args.rounds,
        "bell_value": estimated_bell_sum(inputs, outputs),
        "bell_value_ideal": 4 * args.noise,
        "local_bound": 2.0,
        "no_signalling_test": signalling_report(inputs, outputs, device.setting_counts),
        "device_run": device_run,
    }


def run(args: argparse.Namespace) -> int:
    restore_run_arguments(args)
    start = time.perf_counter()
    report = _chained_report(args) if args.kind == "chained" else _four_party_report(args)
    report["seconds"] = round(time.perf_counter() - start, 3)
    if args.json:
        print_json(report)
        return EXIT_OK
    if report["device"] == "chained":
        print(f"chained Bell device  M={report['settings']}  xi={report['noise']}  backend={report['backend']}  rounds={report['rounds']}")
        print(f"  <W>        = {report['bell_value']:.6f} +- {report['bell_value_standard_error']:.6f}"
              f"   (ideal {report['bell_value_ideal']:.6f}, local bound {report['local_bound']:.6f})")
        print(f"  key errors = {report['key_error_rate']:.6f} +- {report['key_error_rate_standard_error']:.6f}"
              f"   (ideal {report['key_error_rate_ideal']:.6f})")
    else:
        print(f"four-party device  xi={report['noise']}  backend={report['backend']}  rounds={report['rounds']}")
        print(f"  Bell sum (eq. 5) = {report['bell_value']:.6f}   (ideal {report['bell_value_ideal']:.6f}, local bound 2)")
    test = report["no_signalling_test"]
    if test["tests"]:
        verdict = "SIGNALS" if test["signals"] else "consistent with no-signalling"
        print(f"  no-signalling test: p = {test['p_value']:.3g} over {test['tests']} chi-square tests "
              f"(Bonferroni), {verdict} at {test['significance']:g}")
    else:
        print("  no-signalling test: too few rounds for any chi-square test")
    print(f"  {report['seconds']} s")
    return EXIT_OK
