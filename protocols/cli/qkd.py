"""``bellbox qkd``: a DI-QKD run (paper 000, Sec. III A) on a device or on recorded rounds.

Exit status 0 with a key, 3 when the protocol aborted, 2 on bad input. The key is never
printed; ``--key-out`` writes Alice's key (mode 0600) and ``--report`` the JSON result.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from . import EXIT_NO_OUTPUT, EXIT_OK
from .arguments import add_backend_argument, open_unit_interval, positive_int, unit_interval
from .output import print_json, to_jsonable
from .run_control import add_run_control_arguments, restore_run_arguments, run_control

#: Options that define a device run; a checkpoint stores them and ``--resume`` restores them.
RUN_OPTIONS = ("rounds", "settings", "noise", "gamma", "backend", "device", "eps", "eps_erco", "error_rate", "seed")


def _gamma(text: str) -> float | str:
    return "auto" if text == "auto" else open_unit_interval(text)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("qkd", help="run DI-QKD end to end and print a summary")
    parser.add_argument("--rounds", type=positive_int, default=10**6, metavar="N", help="rounds N (default 10^6)")
    parser.add_argument("--settings", type=positive_int, default=7, metavar="M", help="Alice's settings M >= 2 (default 7)")
    parser.add_argument("--noise", type=unit_interval, default=0.0, metavar="XI", help="white noise xi of the quantum device (default 0)")
    parser.add_argument("--gamma", type=_gamma, default="auto", metavar="G|auto",
                        help="test-round probability gamma in (0, 1); auto maximises the expected key (default)")
    add_backend_argument(parser)
    add_run_control_arguments(parser)
    parser.add_argument("--device", choices=("quantum", "local", "pr"), default="quantum",
                        help="quantum (noisy EPR pairs), local (best classical strategy), pr (no-signaling box with <W> = 0)")
    parser.add_argument("--records", metavar="FILE", help="post-process recorded rounds (.npz or .csv) instead of running a device")
    parser.add_argument("--eps", type=open_unit_interval, default=1e-9, help="privacy-amplification epsilon of eq. (17) (default 1e-9)")
    parser.add_argument("--eps-erco", type=open_unit_interval, default=1e-10, dest="eps_erco",
                        help="error-correction failure probability (hash tag; default 1e-10)")
    parser.add_argument("--error-rate", type=unit_interval, default=None, dest="error_rate", metavar="LAMBDA",
                        help="error rate to design the code for (default: inferred from W-bar)")
    parser.add_argument("--seed", type=int, default=None, help="reproducible run: seeds protocol randomness and device (NOT SECURE)")
    parser.add_argument("--key-out", metavar="FILE", help="write Alice's key (raw bytes, mode 0600)")
    parser.add_argument("--report", metavar="FILE.json", help="write the JSON result")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the summary")
    parser.set_defaults(handler=run)


def _device(args: argparse.Namespace):
    from qdevices import ChainedBellDevice, ChainedPRBox, LocalChainedDevice

    if args.device == "local":
        return LocalChainedDevice.optimal(args.settings, seed=args.seed)
    if args.device == "pr":
        return ChainedPRBox(args.settings, seed=args.seed)
    return ChainedBellDevice(args.settings, args.noise, backend=args.backend, seed=args.seed)


def _auto_gamma(args: argparse.Namespace) -> float:
    """The gamma maximising the expected finite key (paper 000 eq. (17)) for the device's noise."""
    from protocols.qkd.keyrate import KeyRateInputError, asymptotic_rate, expected_key_length

    try:
        return expected_key_length(settings=args.settings, noise=args.noise, rounds=args.rounds, eps=args.eps).gamma
    except KeyRateInputError:
        return asymptotic_rate(settings=args.settings, noise=args.noise).gamma


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from protocols.qkd.protocol import QKDParameters, distill_key, run_diqkd
    from protocols.progress import ProgressBar
    from protocols.records import load_records
    from qdevices import Randomness

    restore_run_arguments(args)
    randomness = Randomness(seed=args.seed)
    device_runs: list = []
    if args.records:
        records = load_records(args.records)
        gamma = float(np.clip(records.alice_test.mean(), 1e-9, 1 - 1e-9))
        params = QKDParameters(rounds=records.rounds, settings=records.settings, gamma=gamma, eps=args.eps,
                               eps_erco=args.eps_erco, error_rate=args.error_rate)
        result = distill_key(records, params, randomness)
        source = f"records {args.records}"
    else:
        args.gamma = _auto_gamma(args) if args.gamma == "auto" else args.gamma
        params = QKDParameters(rounds=args.rounds, settings=args.settings, gamma=args.gamma, eps=args.eps,
                               eps_erco=args.eps_erco, error_rate=args.error_rate)
        device = _device(args)
        control = run_control(args, RUN_OPTIONS, on_finish=device_runs.append)
        with ProgressBar(args.rounds, "measuring") as bar:
            result = run_diqkd(device, params, randomness, progress=bar, control=control)
        source = f"device {args.device}" + (f" ({device.backend_name}, xi={args.noise})" if args.device == "quantum" else "")

    report = {**result.to_dict(), "source": source}
    if device_runs:
        report["device_run"] = device_runs[0].to_dict()
        if report["device_run"].get("mode") == "shots" and args.backend != "aer-shots":
            report["caveat"] = ("demonstration, not a device-independent run: both parties are measured on "
                                "one chip, so no-signaling between them is not enforced")
    if args.report:
        Path(args.report).write_text(json.dumps(to_jsonable(report), indent=2))
    if result.success and args.key_out:
        _write_secret(Path(args.key_out), result.key_a)
    if args.json:
        print_json(report)
    else:
        _print_summary(report)
    return EXIT_OK if result.success else EXIT_NO_OUTPUT


def _write_secret(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` with mode 0600 (the mode is set before any byte is written)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def _print_summary(report: dict) -> None:
    r = report
    print(f"DI-QKD  M={r['settings']}  N={r['rounds']:,}  gamma={r['gamma']:.4f}  {r['source']}")
    if not r["secure_randomness"]:
        print(f"  randomness      {r['randomness']}  (reproducible: NOT SECURE)")
    if r["bell_value"] is not None:
        print(f"  estimation      N_e={r['estimation_rounds']:,}  W-bar={r['bell_value']:.5f}  (local bound {r['local_bound']:.5f})")
    print(f"  raw key         N_r={r['raw_key_rounds']:,}"
          + (f"  QBER={r['qber']:.5f}" if r["qber"] is not None else "")
          + (f"  (code designed for {r['error_rate_estimate']:.5f})" if r["error_rate_estimate"] is not None else ""))
    if r["reconciliation"]:
        rec = r["reconciliation"]
        print(f"  error corr.     leaked N_c={r['leaked_bits']:,} bits (syndrome {rec['syndrome_bits']:,}, tag {rec['tag_bits']})")
    if r["status"] == "key":
        print(f"  key             N_s={r['key_length']:,} bits, eps + 2 eps_erco = {r['total_eps']:.3g}  (eq. 20)")
    else:
        print(f"  ABORTED         {r['reason']}")
    timings = ", ".join(f"{k.replace('_', ' ')} {v:.2f} s" for k, v in r["timings"].items())
    print(f"  time            {timings}")
