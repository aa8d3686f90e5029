"""``bellbox amplify``: DI randomness amplification of an SV source (paper 004, Protocols I, II).

Runs (or with ``--plan`` only plans) Protocol I of Fig. 1 or Protocol II of Fig. 3 (two devices,
the second in ``--blocks`` blocks of ``--runs`` runs) and prints its certificate: the bound on
``d_comp p(ACC)`` of eq. (112) or (181) with every intermediate number. Bits are written
(``--out``) only when the certificate meets ``--error``. Exit status 0 when bits are output, 3
otherwise (aborted, not certified, or a plan), 2 on bad input.

``--certificate`` picks the chain for both protocols: ``improved`` (default) or ``paper``. Protocol
II with the improved chain (:mod:`protocols.amplification.improved_protocol2`) has two routes
(``--route``): ``chain-rule`` (N2 = 1 suffices; the default of a run) and ``de-finetti`` (the
paper's block structure, Lemma 13); ``--plan`` without ``--route`` answers with the route and
extractor needing the fewest device runs ``n (1 + N2)``. With N2 > 1 the improved run does not
publish the chosen block (:func:`protocols.amplification.protocol2.run_protocol2`).

``--records FILE`` post-processes recorded runs of Protocol I instead of running a device (the
format of :mod:`protocols.amplification.records`; ``t`` from the file or ``--sv-file``).
``--checkpoint DIR`` / ``--resume DIR`` / ``--job-rounds`` / ``--max-attempts`` /
``--retry-wait`` (:mod:`protocols.cli.run_control`) measure Protocol I in checkpointed jobs:
all settings are drawn first (at most ``MAX_JOB_RUNS`` runs), and each job has its own device
stream, so the outcomes differ from a run without these options for the same ``--seed``; a
resumed run equals the uninterrupted checkpointed run. Protocol II supports neither.

Protocol I on a backend other than ``exact`` (``fake-exact:NAME``, ``fake:NAME``, ``aer-shots``,
``ibm:NAME``) without ``--delta`` first calibrates the device (:mod:`protocols.amplification.
calibration`: the backend's exact noisy distribution when it has one, else ``--calibration-runs``
separate runs of each setting; never the protocol's own runs), then fixes ``delta`` and, without
``--runs``, ``n`` (planned for ``--bits``, default 64) before the protocol runs; the report's
``calibration`` field holds the numbers.

``--report FILE`` writes the JSON report (never the output bits) atomically
(:func:`protocols.files.write_json_atomic`); reports carry ``output_sha256``, the SHA-256 of the
output bits as written by ``--out``, so two parties can compare outputs without revealing them.
Key integrity: a checkpointed run stores its report in ``DIR/report.json`` when it finishes;
``--resume DIR`` of a finished run prints that stored report and extracts nothing again (the
extractor seed ``t`` would be fresh SV bits, and a second output from the same device data is not
covered by the certificate); with ``--out`` it refuses (exit 2): the bits are not kept.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from . import EXIT_NO_OUTPUT, EXIT_OK
from .arguments import add_backend_argument, positive_int, unit_interval
from .output import print_json
from .run_control import REPORT_NAME, add_run_control_arguments, finished_report, restore_run_arguments, run_control

#: Options that define a device run; a checkpoint stores them and ``--resume`` restores them.
RUN_OPTIONS = ("protocol", "sv_eps", "sv_strategy", "sv_file", "sv_file_format", "runs", "delta",
               "noise", "error", "bits", "backend", "device", "local_strategy", "seed",
               "certificate")
#: ``--bits`` default of the plan that fixes ``n`` after a calibration (issue 10's target).
CALIBRATED_PLAN_BITS = 64
#: The finished run's report inside a checkpoint directory.


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("amplify", help="DI randomness amplification (paper 004)")
    parser.add_argument("--protocol", type=int, choices=(1, 2), default=1,
                        help="Protocol I (Fig. 1) or II (Fig. 3, two devices)")
    parser.add_argument("--sv-eps", type=_number, default=None, metavar="EPS",
                        help="SV parameter eps in [0, 1/2) (paper 004 eq. (1)); required unless --resume")
    parser.add_argument("--sv-strategy", default="iid-high", metavar="NAME",
                        help="simulated SV strategy (uniform, iid-high, iid-low, sticky, "
                             "steer-untested, steer-repeat; default iid-high)")
    parser.add_argument("--sv-file", default=None, metavar="PATH",
                        help="read the SV bits from a file instead (eps is your claim)")
    parser.add_argument("--sv-file-format", choices=("binary", "ascii"), default="binary")
    parser.add_argument("--runs", type=positive_int, default=None, metavar="N",
                        help="number of runs n of the four-party device (not with --records)")
    parser.add_argument("--records", default=None, metavar="FILE",
                        help="post-process recorded Protocol I runs (.npz or .csv: u1..u4, "
                             "x1..x4 per run, optional SV bits t) instead of running a device")
    parser.add_argument("--blocks", type=positive_int, default=None, metavar="N2",
                        help="blocks N2 of the second device, a power of 2 (Protocol II only)")
    parser.add_argument("--delta", type=_number, default=None, metavar="D",
                        help="acceptance threshold on L_n (default: planned from a calibration on "
                             "backends other than exact (Protocol I), else 1.1 x the white-noise "
                             "expectation 4 xi (1/2 + eps)^4)")
    parser.add_argument("--calibration-runs", type=positive_int, default=4000, metavar="R",
                        help="Protocol I on a backend other than exact, without --delta: runs of "
                             "each setting that calibrate the Bell value when the backend has no "
                             "exact distribution (fake-exact:NAME has one); delta and, without "
                             f"--runs, n (for --bits, default {64}) are then planned from it")
    parser.add_argument("--noise", type=unit_interval, default=0.0, metavar="XI",
                        help="white-noise fraction xi of the quantum device (default 0)")
    parser.add_argument("--error", type=_number, default=2.0**-40, metavar="E",
                        help="required bound on d_comp p(ACC) (default 2^-40)")
    parser.add_argument("--bits", type=positive_int, default=None, metavar="M",
                        help="output bits (default: the largest certified number)")
    add_backend_argument(parser)
    parser.add_argument("--device", choices=("quantum", "local"), default="quantum")
    parser.add_argument("--local-strategy", default="00000000", metavar="BITS",
                        help="8 bits x_i(u_i) for the local device, party-major (default 0s)")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed source and device (reproducible, marked seeded (not secure))")
    parser.add_argument("--out", default=None, metavar="FILE",
                        help="write the output bits (ASCII 0/1, mode 0600) when certified")
    parser.add_argument("--report", default=None, metavar="FILE.json",
                        help="write the JSON report (without the output bits) atomically")
    parser.add_argument("--plan", action="store_true",
                        help="only plan: smallest n (and N2) certifying --bits at --error")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--certificate", choices=("improved", "paper"), default="improved",
                        help="certificate chain: improved (docs/amplification_improved_certificate"
                             ".md, docs/amplification_protocol2_improved.md) or paper 004's "
                             "(Thm. 20 / Thm. 27)")
    parser.add_argument("--route", choices=("chain-rule", "de-finetti"), default=None,
                        help="Protocol II, improved chain: chain-rule (pair min-entropy, N2 = 1 "
                             "suffices) or de-finetti (Lemma 13, the paper's blocks); default: "
                             "the route with the fewest runs for --plan, chain-rule for a run")
    add_run_control_arguments(parser)
    parser.set_defaults(handler=run)


def _source(args: argparse.Namespace):
    from qdevices.randomness import Randomness
    from qdevices.sources import FileSource, named_source

    if args.sv_file is not None:
        return FileSource(args.sv_file, args.sv_eps, args.sv_file_format)
    return named_source(args.sv_strategy, args.sv_eps, Randomness(args.seed))


def _device(args: argparse.Namespace, seed_offset: int = 1):
    import numpy as np

    from qdevices import FourPartyDevice, LocalFourPartyDevice

    device_seed = None if args.seed is None else args.seed + seed_offset
    if args.device == "local":
        bits = args.local_strategy
        if len(bits) != 8 or set(bits) - {"0", "1"}:
            raise ValueError(f"--local-strategy must be 8 characters 0/1, got {bits!r}")
        strategy = np.array([int(b) for b in bits], dtype=np.uint8).reshape(4, 2)
        return LocalFourPartyDevice(strategy, seed=device_seed)
    return FourPartyDevice(args.noise, backend=args.backend, seed=device_seed)


def _print_certificate(certificate: dict) -> None:
    for key, value in certificate.items():
        print(f"  {key:26s}: {value}")


def _calibration_line(calibrated) -> str:
    c = calibrated.calibration
    return (f"calibration   : {c.method}, Bell average {c.uniform_bell_estimate:.5g} (uniform "
            f"settings; upper bound {c.uniform_bell_average:.5g}), {c.worst_sv_bell_average:.5g} "
            f"(worst eps-SV law, upper bound) -> delta = "
            f"{calibrated.delta:.5g}, n = {calibrated.plan.required_runs}")


def _plan(args: argparse.Namespace, delta: float, calibrated=None) -> int:
    from protocols.amplification.protocol1 import CyclicShiftExtractor
    from protocols.amplification.certificate import plan_protocol1
    from protocols.amplification.protocol2 import plan_protocol2

    if calibrated is not None:
        plan = calibrated.plan
    elif args.protocol == 2 and args.certificate == "improved":
        from protocols.amplification.improved_protocol2 import best_plan

        plan = best_plan(args.bits or 1, args.error, args.sv_eps, delta, args.route)
    elif args.protocol == 2:
        plan = plan_protocol2(args.bits or 1, args.error, args.sv_eps, delta)
    elif args.certificate == "improved":
        from protocols.amplification.improved_certificate import plan_protocol1_improved

        plan = plan_protocol1_improved(args.bits or 1, args.error, args.sv_eps, delta)
    else:
        plan = plan_protocol1(args.bits or 1, args.error, args.sv_eps, delta,
                              CyclicShiftExtractor())
    report = {**plan.to_dict(), "status": "not certified", "mode": "plan",
              "bell_average": None, "requested_bits": plan.output_bits, "output_bits": 0,
              "error_bound": plan.certificate.error_bound}
    if calibrated is not None:
        report["calibration"] = calibrated.to_dict()
        print(_calibration_line(calibrated), file=sys.stderr if args.json else sys.stdout)
    if args.json:
        print_json(report)
    else:
        runs = plan.required_runs if plan.required_runs is not None else "none"
        if args.protocol == 2 and plan.required_runs is not None:
            runs = (f"n = {plan.required_runs}, N2 = 2^{plan.required_blocks.bit_length() - 1}"
                    f" ({plan.total_runs} device runs n (1 + N2)"
                    + (f"; route {plan.route}, extractor {plan.certificate.extractor})"
                       if hasattr(plan, "route") else
                       f"; smallest n at any N2: {plan.smallest_runs})"))
        print(f"smallest n certifying {plan.output_bits} bits at d_comp p(ACC) <= {args.error:g}"
              f" (eps = {args.sv_eps:g}, delta = {delta:g}): {runs}")
        if getattr(plan, "runs_by_extractor", ()):
            print(f"extractor: {plan.extractor} (smallest n by extractor: "
                  + ", ".join(f"{name} {runs}" for name, runs in plan.runs_by_extractor) + ")")
        if plan.reason:
            print(f"reason: {plan.reason}")
        _print_certificate(plan.certificate.to_dict())
    return EXIT_NO_OUTPUT


def _bits_text(bits) -> bytes:
    """The ``--out`` file's content: ASCII 0/1 bits and a newline."""
    return ("".join("1" if b else "0" for b in bits) + "\n").encode()



def _report_finished(args: argparse.Namespace, stored: dict) -> int:
    """Print (and ``--report``) the stored report of a finished run; nothing is extracted."""
    from protocols.files import write_json_atomic

    report = {**stored, "extracted": f"earlier: report from {Path(args.resume) / REPORT_NAME}, "
                                     "not extracted again"}
    if args.report is not None:
        write_json_atomic(args.report, report)
    if args.json:
        print_json(report)
    else:
        print(f"status        : {report['status']} (finished earlier; {report['extracted']})")
        print(f"output bits   : {report['output_bits']} (sha256 {report.get('output_sha256')})")
        print(f"d_comp p(ACC) <= 2^{report['log2_error_bound']:.2f}")
    return EXIT_NO_OUTPUT


def _uses_jobs(args: argparse.Namespace) -> bool:
    """Whether the run is measured in checkpointed jobs (any run-control option, or IBM)."""
    return (args.checkpoint is not None or args.resume is not None or args.job_rounds is not None
            or str(args.backend).startswith("ibm:"))


def _check_mode(args: argparse.Namespace) -> None:
    """Reject option combinations that have no meaning, naming the options."""
    if args.sv_eps is None:
        raise ValueError("--sv-eps is required (the SV parameter eps in [0, 1/2))")
    if args.records is not None:
        if args.protocol == 2:
            raise ValueError("--records supports Protocol I only (--protocol 1): Protocol II "
                             "records would need both devices' runs and the block index")
        if args.runs is not None or _uses_jobs(args) or args.plan:
            raise ValueError("--records takes n from the file: do not combine it with --runs, "
                             "--plan, --checkpoint, --resume or --job-rounds")
        return
    if args.runs is None and not args.plan and not _calibrates(args):
        raise ValueError("--runs is required (the number n >= 1 of runs) unless --records or "
                         "--resume is given")
    if args.protocol == 2 and args.blocks is None and not args.plan:
        raise ValueError("--blocks is required with --protocol 2 (a power of 2 >= 1)")
    if args.route is not None and (args.protocol != 2 or args.certificate != "improved"):
        raise ValueError(f"--route {args.route} applies to --protocol 2 with --certificate "
                         "improved only")
    if args.protocol == 2 and (args.checkpoint or args.resume or args.job_rounds):
        raise ValueError("--checkpoint, --resume and --job-rounds support Protocol I only "
                         "(--protocol 1), got --protocol 2")


def _check_outputs(args: argparse.Namespace) -> None:
    """``--out`` and ``--report`` before any device runs: writable, distinct, never an input."""
    from protocols.files import check_distinct_outputs, check_output_path

    inputs = (args.records, args.sv_file)
    check_distinct_outputs({"--out": args.out, "--report": args.report})
    if args.out is not None:
        check_output_path(args.out, inputs=inputs, secret=True, option="--out")
    if args.report is not None:
        check_output_path(args.report, inputs=inputs, option="--report")


def run(args: argparse.Namespace) -> int:
    from protocols.amplification.protocol1 import default_delta
    from protocols.amplification.certificate import check_eps, check_error
    from protocols.bell.four_party import check_delta

    finished = finished_report(args.resume, "--out", args.out, "output bits", "extracted")
    restore_run_arguments(args)
    if finished is not None:
        return _report_finished(args, finished)
    _check_mode(args)
    _check_outputs(args)
    check_eps(args.sv_eps)
    check_error(args.error)
    if _calibrates(args):
        device = _device(args)
        calibrated = _calibrate(args, device)
        if args.plan or calibrated.plan.required_runs is None:
            return _plan(args, calibrated.delta, calibrated)
        args.delta = calibrated.delta  # stored in a checkpoint, so a resume does not recalibrate
        args.runs = args.runs or calibrated.plan.required_runs
        return _run_protocol1(args, calibrated.delta, device, calibrated)
    delta = check_delta(args.delta if args.delta is not None
                        else default_delta(args.noise, args.sv_eps))
    if args.plan:
        return _plan(args, delta)
    if args.records is not None:
        return _run_records(args, delta)
    if args.protocol == 2:
        return _run_protocol2(args, delta)
    return _run_protocol1(args, delta)


def _calibrates(args: argparse.Namespace) -> bool:
    """Protocol I on an emulated or hardware backend without ``--delta``: calibrate first."""
    return (args.protocol == 1 and args.records is None and args.device == "quantum"
            and args.delta is None and args.backend != "exact")


def _calibrate(args: argparse.Namespace, device):
    """Calibration (:mod:`protocols.amplification.calibration`), never the protocol's own runs,
    then ``delta`` and ``n`` for ``--bits`` (default :data:`CALIBRATED_PLAN_BITS`)."""
    from protocols.amplification.calibration import calibrate, plan_from_calibration

    print(f"bellbox amplify: calibrating {args.backend} ...", file=sys.stderr)
    calibration = calibrate(device, args.sv_eps, args.calibration_runs)
    return plan_from_calibration(calibration, args.bits or CALIBRATED_PLAN_BITS, args.error)


def _bar(runs: int):
    """A progress bar over device runs, drawn on a terminal only (tqdm ``disable=None``)."""
    from tqdm import tqdm

    return tqdm(total=runs, desc="device runs", unit="run", unit_scale=True, disable=None)


def _run_protocol1(args: argparse.Namespace, delta: float, device=None, calibrated=None) -> int:
    from protocols.amplification.protocol1 import CyclicShiftExtractor, run_protocol1

    device_runs: list = []
    control = run_control(args, RUN_OPTIONS, on_finish=device_runs.append) \
        if _uses_jobs(args) else None
    with _bar(args.runs) as bar:
        result = run_protocol1(device or _device(args), _source(args), args.runs, delta, args.error,
                               CyclicShiftExtractor(), output_bits=args.bits, control=control,
                               certificate=args.certificate, progress=bar.update)
    tests = [f"L_n           : {result.bell_test.bell_average:.6g} (delta = {delta:g})"]
    extra = {"device_run": device_runs[0].to_dict()} if device_runs else {}
    if calibrated is not None:
        extra["calibration"] = calibrated.to_dict()
        tests.append(_calibration_line(calibrated))
    return _report(args, result, tests, f"required runs : {result.required_runs}", extra)


def _run_records(args: argparse.Namespace, delta: float) -> int:
    from protocols.amplification.protocol1 import CyclicShiftExtractor
    from protocols.amplification.records import (load_amplification_records,
                                                 post_process_records)

    records = load_amplification_records(args.records)
    extractor = CyclicShiftExtractor()
    t = None
    if args.sv_file is not None:
        t = _source(args).bits(extractor.t_length(4 * records.runs))
    result = post_process_records(records, args.sv_eps, delta, args.error, extractor,
                                  output_bits=args.bits, t=t, label=f"records {args.records}",
                                  certificate=args.certificate)
    tests = [f"L_n           : {result.bell_test.bell_average:.6g} (delta = {delta:g}, "
             f"{records.runs} recorded runs)"]
    return _report(args, result, tests, f"required runs : {result.required_runs}")


def _run_protocol2(args: argparse.Namespace, delta: float) -> int:
    from protocols.amplification.improved_protocol2 import check_blocks
    from protocols.amplification.protocol2 import run_protocol2

    check_blocks(args.blocks)
    with _bar(args.runs * (args.blocks + 1)) as bar:  # N2 blocks of device 2, then device 1
        result = run_protocol2(_device(args, 1), _device(args, 2), _source(args), args.runs,
                               args.blocks, delta, args.error, output_bits=args.bits,
                               certificate=args.certificate, route=args.route or "chain-rule",
                               progress=bar.update)
    block = "withheld" if result.block is None else str(result.block)
    tests = [f"L_n device 1  : {result.first_test.bell_average:.6g} (delta = {delta:g})",
             f"L_n chosen blk: {result.block_test.bell_average:.6g} (device 2, block {block} of "
             f"{result.blocks}; {result.certificate_chain} chain"
             + (f", route {result.route})" if result.route else ")")]
    return _report(args, result, tests,
                   f"required runs : {result.required_runs}, blocks: {result.required_blocks}")


def _report(args: argparse.Namespace, result, test_lines: list[str], required: str,
            extra: dict | None = None) -> int:
    """Write the bits (``--out``), print the report (text or ``--json``), return the exit status.

    ``extra`` entries (e.g. ``device_run``) are added to the JSON report."""
    from protocols.files import write_atomic, write_json_atomic

    text = None if result.output is None else _bits_text(result.output)
    if text is not None and args.out is not None:
        write_atomic(args.out, text, secret=True)
    report = {**result.to_dict(), **(extra or {}),
              "output_sha256": None if text is None else hashlib.sha256(text).hexdigest()}
    checkpoint = (extra or {}).get("device_run", {}).get("checkpoint")
    if checkpoint:  # after the bits: bits that failed to be written were never used
        write_json_atomic(Path(checkpoint) / REPORT_NAME, report)
    if args.report is not None:
        write_json_atomic(args.report, report)
    if text is not None and args.out is None:
        report["bits"] = text.decode().strip()
    if args.json:
        print_json(report)
    else:
        print(f"status        : {result.status}" + (f" ({result.reason})" if result.reason else ""))
        for line in test_lines:
            print(line)
        print(f"output bits   : {result.output_bits}" + (f" -> {args.out}" if args.out and
                                                         result.output is not None else ""))
        print(f"d_comp p(ACC) <= 2^{result.certificate.log2_error_bound:.2f}")
        print(required)
        if "device_run" in report:
            run = report["device_run"]
            print(f"jobs          : {run['jobs']} of {run['job_rounds']} runs, "
                  f"{run['resumed_jobs']} resumed" + (f", checkpoint {run['checkpoint']}"
                                                      if run["checkpoint"] else ""))
        print(f"randomness    : {report['randomness']}")
        _print_certificate(result.certificate.to_dict())
        if "bits" in report:
            print(f"bits          : {report['bits']}")
    return EXIT_OK if result.output is not None else EXIT_NO_OUTPUT
