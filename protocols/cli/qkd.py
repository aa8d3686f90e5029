"""``bellbox qkd``: a DI-QKD run (paper 000, Sec. III A) on a device or on recorded rounds.

Exit status 0 with a key, 3 when the protocol aborted, 2 on bad input. The key is never
printed; ``--key-out`` writes Alice's key (mode 0600, atomically, never through a link) and
``--report`` the JSON result. Both paths are checked before any device runs
(:func:`protocols.files.check_output_path`). Reports carry ``raw_records_sha256``
(:class:`protocols.records.RecordsFingerprint`) and ``key_sha256`` (SHA-256 of Alice's key bytes),
never the key.

Steps 1-2 are streamed (:func:`protocols.qkd.protocol.collect_tallies`, records files through
:func:`protocols.qkd.protocol.tally_records_file`): memory is one job plus the raw key.

Key integrity: a raw data set is distilled once. A checkpointed run stores its report in
``DIR/report.json`` when it finishes; ``--resume DIR`` of a finished run refuses (exit 2) rather
than hashing the same raw key again with fresh seeds (two keys from one raw key are not both
covered by the certificate).

Guard rails: with ``--records`` the device options (``--rounds --settings --noise --gamma
--backend --device``) and the run-control options have no meaning and are refused; so are the
run-defining options next to ``--resume`` (they come from the checkpoint). The expected number
of raw-key rounds ``N (1 - gamma)^2`` is limited by memory (:data:`BYTES_PER_RAW_KEY_ROUND`),
``--rounds`` by :data:`MAX_ROUNDS` and ``--settings`` by :data:`MAX_SETTINGS`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from pathlib import Path

from protocols.errors import BellboxInputError
from protocols.files import check_distinct_outputs, check_output_path, write_atomic, write_json_atomic

from . import EXIT_NO_OUTPUT, EXIT_OK
from .arguments import add_backend_argument, open_unit_interval, positive_int, unit_interval
from .output import print_json
from .run_control import REPORT_NAME, add_run_control_arguments, finished_report, restore_run_arguments, run_control

#: Options that define a device run; a checkpoint stores them and ``--resume`` restores them.
RUN_OPTIONS = ("rounds", "settings", "noise", "gamma", "backend", "device", "eps", "eps_erco", "error_rate", "seed",
               "adversary", "protocol")
#: Defaults of the device options; the parser's defaults are None so that an option given
#: explicitly can be told from one left out (for the guard rails).
DEVICE_DEFAULTS = {"rounds": 10**6, "settings": 7, "noise": 0.0, "gamma": "auto", "backend": "exact",
                   "device": "quantum"}
#: Peak memory per raw-key round (N_r) of steps 2-4: the raw keys (1/8 byte each packed, 1 byte
#: each unpacked), Bob's corrected key and the reconciliation's working arrays. Measured 268 bytes
#: (peak RSS 317 -> 572 MiB for ``reconcile`` at N_r = 10^6, lambda = 1 %, one worker), rounded up.
BYTES_PER_RAW_KEY_ROUND = 300
#: Largest ``--rounds``: 10^9 rounds took 107 s here (benchmarks/bench_qkd.py, 2 loaded cores), so
#: 10^11 take hours; memory is not the limit (steps 1-2 are streamed).
MAX_ROUNDS = 10**11
#: Largest number of settings M: peak RSS grows about quadratically in M (measured at 1000
#: rounds: 363 MB at M = 20, 466 MB at M = 60, 671 MB at M = 100, i.e. ~32 kB per M^2), so
#: M = 1000 would need ~32 GB; 100 keeps a run under 1 GB.
MAX_SETTINGS = 100
#: Largest ``--rounds`` of ``--protocol chsh``, whose rounds are kept in memory (about 8 bytes each,
#: plus the reconciliation of the padded N-bit raw key): 2 x 10^8 rounds stay below ~4 GB.
MAX_CHSH_ROUNDS = 2 * 10**8
#: The finished run's report inside a checkpoint directory.


def max_raw_key_rounds() -> int:
    """Largest expected N_r: half the physical memory at :data:`BYTES_PER_RAW_KEY_ROUND` bytes each."""
    memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return memory // 2 // BYTES_PER_RAW_KEY_ROUND


def _gamma(text: str) -> float | str:
    return "auto" if text == "auto" else open_unit_interval(text)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("qkd", help="run DI-QKD end to end and print a summary")
    parser.add_argument("--rounds", type=positive_int, default=None, metavar="N", help="rounds N (default 10^6)")
    parser.add_argument("--settings", type=positive_int, default=None, metavar="M",
                        help=f"Alice's settings M in [2, {MAX_SETTINGS}] (default 7)")
    parser.add_argument("--noise", type=unit_interval, default=None, metavar="XI", help="white noise xi of the quantum device (default 0)")
    parser.add_argument("--gamma", type=_gamma, default=None, metavar="G|auto",
                        help="test-round probability gamma in (0, 1); auto maximises the expected key (default)")
    add_backend_argument(parser)
    parser.set_defaults(backend=None)  # DEVICE_DEFAULTS["backend"], filled in by _check_options
    add_run_control_arguments(parser)
    parser.add_argument("--device", choices=("quantum", "local", "pr"), default=None,
                        help="quantum (noisy EPR pairs), local (best classical strategy), pr (no-signaling box with <W> = 0)")
    parser.add_argument("--records", metavar="FILE", help="post-process recorded rounds (.npz or .csv) instead of running a device")
    parser.add_argument("--eps", type=open_unit_interval, default=1e-9, help="privacy-amplification epsilon of eq. (17) (default 1e-9)")
    parser.add_argument("--eps-erco", type=open_unit_interval, default=1e-10, dest="eps_erco",
                        help="error-correction failure probability (hash tag; default 1e-10)")
    parser.add_argument("--error-rate", type=unit_interval, default=None, dest="error_rate", metavar="LAMBDA",
                        help="error rate to design the code for (default: inferred from W-bar)")
    parser.add_argument("--seed", type=int, default=None, help="reproducible run: seeds protocol randomness and device (NOT SECURE)")
    parser.add_argument("--protocol", choices=("chained", "chsh"), default="chained",
                        help="chained: paper 000 Sec. III A (default); chsh: the CHSH protocol with an "
                             "entropy-accumulation key (quantum adversaries only; docs/chsh_entropy_accumulation.md)")
    parser.add_argument("--adversary", choices=("no-signaling", "quantum"), default=None,
                        help="security model of the key length: no-signaling (eq. (17); the default for chained) or "
                             "quantum (Appendix A, docs/quantum_chained_key.md; the only model, and default, for chsh)")
    parser.add_argument("--key-out", metavar="FILE", help="write Alice's key (raw bytes, mode 0600)")
    parser.add_argument("--key-out-bob", metavar="FILE", dest="key_out_bob",
                        help="write Bob's key too (emulations: both parties run here; raw bytes, mode 0600)")
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


def _planning_noise(args: argparse.Namespace, device, noise_given: bool, settings: int) -> float:
    """The white noise xi that the plan (``--gamma auto``; the CHSH threshold) is made for:
    ``--noise`` when given or when the device has no model; for ``fake-exact:NAME`` the
    noise-equivalent xi of the device's exact table (eq. (26) inverted), and for ``fake:NAME`` that
    of the same backend model computed exactly (``fake-exact:NAME``, same layout and circuits).
    Public and from the device model, never from the protocol's rounds: it affects only
    efficiency (a device worse than planned aborts)."""
    backend = str(args.backend)
    if noise_given or args.device != "quantum" or not backend.startswith(("fake-exact:", "fake:")):
        return args.noise
    from protocols.bell.chained import noise_equivalent, table_bell_value
    from qdevices import ChainedBellDevice

    model = device if backend.startswith("fake-exact:") else \
        ChainedBellDevice(settings, args.noise, backend="fake-exact:" + backend.split(":", 1)[1])
    return noise_equivalent(table_bell_value(model.outcome_table(), settings), settings)


def _auto_gamma(args: argparse.Namespace, noise: float) -> float:
    """The gamma maximising the expected finite key of the chosen adversary model (eq. (17), or
    the quantum-adversary key) for white noise ``noise``."""
    from protocols.qkd.keyrate import KeyRateInputError, asymptotic_rate, expected_key_length
    from protocols.qkd.quantum_keyrate import expected_quantum_key_length

    expected = expected_quantum_key_length if args.adversary == "quantum" else expected_key_length
    try:
        return expected(settings=args.settings, noise=noise, rounds=args.rounds, eps=args.eps).gamma
    except KeyRateInputError:
        return asymptotic_rate(settings=args.settings, noise=noise).gamma


def _check_options(args: argparse.Namespace) -> None:
    """Refuse options that this mode would ignore, then fill in the device defaults."""
    given = [f"--{name.replace('_', '-')}" for name in DEVICE_DEFAULTS if getattr(args, name) is not None]
    if args.records is not None:
        given += [option for option, value in (("--checkpoint", args.checkpoint), ("--resume", args.resume),
                                               ("--job-rounds", args.job_rounds)) if value is not None]
        if given:
            raise BellboxInputError(f"--records takes the rounds and settings from the file: do not combine "
                                    f"it with {', '.join(given)}")
    elif args.resume is not None and given:
        raise BellboxInputError(f"--resume takes the run's options from the checkpoint: do not combine it "
                                f"with {', '.join(given)}")
    for name, default in DEVICE_DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, default)


def _check_limits(args: argparse.Namespace) -> None:
    if not 2 <= args.settings <= MAX_SETTINGS:
        raise BellboxInputError(f"--settings must be in [2, {MAX_SETTINGS}], got {args.settings}")
    if args.rounds > MAX_ROUNDS:
        raise BellboxInputError(f"--rounds must be <= {MAX_ROUNDS:.3g} (10^9 rounds take about 2 minutes here), "
                                f"got {args.rounds:.3g}")


def _check_raw_key_memory(rounds: int, gamma: float) -> None:
    """Refuse a run whose expected raw key ``N (1 - gamma)^2`` would not fit in memory."""
    expected, limit = rounds * (1.0 - gamma) ** 2, max_raw_key_rounds()
    if expected > limit:
        raise BellboxInputError(f"--gamma {gamma:.4g} with --rounds {rounds:.3g} expects "
                                f"{expected:.3g} raw-key rounds; at most {limit:.3g} fit in half of this machine's "
                                f"memory ({BYTES_PER_RAW_KEY_ROUND} bytes each): raise --gamma or lower --rounds")


def _check_outputs(args: argparse.Namespace) -> None:
    """Check ``--key-out`` and ``--report`` before anything runs (never onto an input)."""
    inputs = [args.records]
    check_distinct_outputs({"--key-out": args.key_out, "--key-out-bob": args.key_out_bob, "--report": args.report})
    for option, path in (("--key-out", args.key_out), ("--key-out-bob", args.key_out_bob)):
        if path is not None:
            check_output_path(path, inputs=inputs, secret=True, option=option)
    if args.report is not None:
        check_output_path(args.report, inputs=inputs, option="--report")



def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from protocols.qkd.protocol import (QKDParameters, collect_tallies, device_run_provenance, distill_tallies,
                                        tally_records_file)
    from tqdm import tqdm
    from qdevices import Randomness

    if args.protocol == "chsh":
        return _run_chsh(args)
    args.adversary = args.adversary or "no-signaling"
    noise_given = args.noise is not None
    _check_options(args)
    key_option = "--key-out-bob" if args.key_out is None and args.key_out_bob is not None else "--key-out"
    finished = finished_report(args.resume, key_option, args.key_out or args.key_out_bob, "key", "distilled")
    restore_run_arguments(args)
    _check_outputs(args)
    randomness = Randomness(seed=args.seed)
    if args.records:
        tallies = tally_records_file(args.records)
        gamma = min(max(tallies.alice_tests / max(tallies.rounds, 1), 1e-9), 1 - 1e-9)
        params = QKDParameters(rounds=max(tallies.rounds, 1), settings=tallies.settings, gamma=gamma, eps=args.eps,
                               eps_erco=args.eps_erco, error_rate=args.error_rate, adversary=args.adversary)
        result = distill_tallies(tallies, params, randomness)
        source = f"records {args.records}"
    else:
        _check_limits(args)
        if args.gamma != "auto":
            _check_raw_key_memory(args.rounds, args.gamma)  # before any device is built
        device = _device(args)
        if args.gamma == "auto":
            args.gamma = _auto_gamma(args, _planning_noise(args, device, noise_given, args.settings))
        params = QKDParameters(rounds=args.rounds, settings=args.settings, gamma=args.gamma, eps=args.eps,
                               eps_erco=args.eps_erco, error_rate=args.error_rate, adversary=args.adversary)
        _check_raw_key_memory(params.rounds, params.gamma)
        control = run_control(args, RUN_OPTIONS)
        # a bar on a terminal only (disable=None), so scripts and CI logs stay clean; updated per job
        with tqdm(total=args.rounds, desc="measuring", unit="round", unit_scale=True, disable=None) as bar:
            streamed = collect_tallies(device, params, randomness, progress=bar.update, control=control)
        tallies = streamed.tallies
        if finished is not None:
            return _report_finished(args, finished, tallies.fingerprint.hexdigest(), streamed.device_run)
        result = distill_tallies(tallies, params, randomness)
        result.timings.update(streamed.timings)
        result = replace(result, device_run=device_run_provenance(device, streamed.device_run))
        source = f"device {args.device}" + (f" ({device.backend_name}, xi={args.noise})" if args.device == "quantum" else "")

    report = {**result.to_dict(), "source": source, "raw_records_sha256": tallies.fingerprint.hexdigest(),
              "key_sha256": hashlib.sha256(result.key_a).hexdigest() if result.success else None}
    return _finish(args, result, report, _print_summary)


def _finish(args: argparse.Namespace, result, report: dict, print_summary) -> int:
    """Shared end of both protocols: the one-chip caveat, the keys (one secret writer), the
    checkpoint's stored report, ``--report``, then JSON or the summary; exit 0 with a key, else 3."""
    if (result.device_run or {}).get("execution") in ("fake-shots", "ibm-hardware"):
        report["caveat"] = ("demonstration, not a device-independent run: both parties are measured on "
                            "one chip, so no-signaling between them is not enforced")
    _write_keys(args, result)
    checkpoint = (result.device_run or {}).get("checkpoint")
    if checkpoint is not None:
        # after the key: a key that failed to be written was never used, so it may be re-distilled
        write_json_atomic(Path(checkpoint) / REPORT_NAME, report)
    if args.report:
        write_json_atomic(args.report, report)
    if args.json:
        print_json(report)
    else:
        print_summary(report)
    return EXIT_OK if result.success else EXIT_NO_OUTPUT


def _report_finished(args: argparse.Namespace, stored: dict, raw_sha256: str, device_run) -> int:
    """Print (and ``--report``) the stored report of a finished run, with this resume's job counts."""
    from qdevices.jobs import CheckpointError

    if stored.get("raw_records_sha256") != raw_sha256:
        raise CheckpointError(f"checkpoint {str(args.resume)!r}: the reloaded raw records have SHA-256 "
                              f"{raw_sha256}, {REPORT_NAME} says {stored.get('raw_records_sha256')}")
    report = {**stored, "device_run": {**stored.get("device_run", {}), **device_run.to_dict()},
              "distilled": f"earlier: report from {Path(args.resume) / REPORT_NAME}, not distilled again"}
    if args.report:
        write_json_atomic(args.report, report)
    if args.json:
        print_json(report)
    else:
        _print_summary(report)
    return EXIT_OK if stored.get("status") == "key" else EXIT_NO_OUTPUT


def _write_keys(args: argparse.Namespace, result) -> None:
    """Alice's key to ``--key-out`` and Bob's to ``--key-out-bob`` (one secret writer: atomic, 0600)."""
    if result.success:
        for path, key in ((args.key_out, result.key_a), (args.key_out_bob, result.key_b)):
            if path:
                write_atomic(path, key, secret=True)


def _check_chsh_options(args: argparse.Namespace) -> None:
    """The CHSH protocol: quantum adversaries only, M = 2 fixed, no records or checkpoints (yet)."""
    if args.adversary == "no-signaling":
        raise BellboxInputError("--adversary no-signaling: the CHSH protocol's key rests on entropy accumulation "
                                "against quantum adversaries; use --adversary quantum or --protocol chained")
    refused = [option for option, value in (("--settings", args.settings), ("--records", args.records),
                                            ("--checkpoint", args.checkpoint), ("--resume", args.resume),
                                            ("--job-rounds", args.job_rounds)) if value is not None]
    if refused:
        raise BellboxInputError(f"--protocol chsh measures the fixed CHSH bases (M = 2) in one in-memory run: do not "
                                f"combine it with {', '.join(refused)}")
    args.adversary = "quantum"
    for name, default in DEVICE_DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, default)
    if args.rounds > MAX_CHSH_ROUNDS:
        raise BellboxInputError(f"--rounds must be <= {MAX_CHSH_ROUNDS:.3g} with --protocol chsh (the rounds are "
                                f"kept in memory, about 8 bytes each), got {args.rounds:.3g}")


def _run_chsh(args: argparse.Namespace) -> int:
    """``bellbox qkd --protocol chsh``: :func:`protocols.qkd.chsh.run_chsh` on the M = 2 chained device."""
    from protocols.qkd.chsh import CHSHParameters, run_chsh
    from qdevices import ChainedBellDevice, ChainedPRBox, LocalChainedDevice, Randomness

    noise_given = args.noise is not None
    _check_chsh_options(args)
    _check_outputs(args)
    if args.device == "local":
        device = LocalChainedDevice.optimal(2, seed=args.seed)
    elif args.device == "pr":
        device = ChainedPRBox(2, seed=args.seed)
    else:
        device = ChainedBellDevice(2, args.noise, backend=args.backend, seed=args.seed)
    params = CHSHParameters(rounds=args.rounds, gamma=args.gamma, noise=_planning_noise(args, device, noise_given, 2),
                            eps=args.eps, eps_erco=args.eps_erco, error_rate=args.error_rate)
    result = run_chsh(device, params, Randomness(seed=args.seed))
    source = f"device {args.device}" + (f" ({device.backend_name}, xi={args.noise})" if args.device == "quantum" else "")
    report = {**result.to_dict(), "source": source,
              "key_sha256": hashlib.sha256(result.key_a).hexdigest() if result.success else None}
    return _finish(args, result, report, _print_chsh_summary)


def _print_chsh_summary(report: dict) -> None:
    r = report
    print(f"DI-QKD (CHSH)  N={r['rounds']:,}  gamma={r['gamma']:.5f}  {r['source']}")
    print(f"  adversary       {r['adversary_model']}: {r['theorem']}")
    print(f"  devices         {r['device_assumption']}")
    if not r["secure_randomness"]:
        print(f"  randomness      {r['randomness']}  (reproducible: NOT SECURE)")
    if r["winning_frequency"] is not None:
        print(f"  estimation      test rounds {r['test_rounds']:,} (cap {r['test_round_cap']:,})  wins "
              f"{r['wins']:,}  w={r['winning_frequency']:.5f}  S={r['chsh_value']:.4f}  (accept: w >= "
              f"{r['threshold']:.5f})")
    if r["note"]:
        print(f"  note            {r['note']}")
    print(f"  raw key         N_r={r['raw_key_rounds']:,}" + (f"  QBER={r['qber']:.5f}" if r["qber"] is not None else ""))
    if r["status"] == "key":
        print(f"  key             {r['key_length']:,} bits, leaked {r['leaked_bits']:,} bits, secrecy + "
              f"correctness eps = {r['total_eps']:.3g}")
    else:
        print(f"  ABORTED         {r['reason']}")


def _print_summary(report: dict) -> None:
    r = report
    print(f"DI-QKD  M={r['settings']}  N={r['rounds']:,}  gamma={r['gamma']:.4f}  {r['source']}")
    print(f"  adversary       {r['adversary_model']}: {r['theorem']}")
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
