"""``bellbox amplify``: DI randomness amplification of an SV source (paper 004, Protocols I, II).

Runs (or with ``--plan`` only plans) Protocol I of Fig. 1 or Protocol II of Fig. 3 (two devices,
the second in ``--blocks`` blocks of ``--runs`` runs) and prints its certificate: the bound on
``d_comp p(ACC)`` of eq. (112) or (181) with every intermediate number. Bits are written
(``--out``) only when the certificate meets ``--error``. Exit status 0 when bits are output, 3
otherwise (aborted, not certified, or a plan), 2 on bad input.

``--records FILE`` post-processes recorded runs of Protocol I instead of running a device (the
format of :mod:`protocols.amplification.records`; ``t`` from the file or ``--sv-file``).
``--checkpoint DIR`` / ``--resume DIR`` / ``--job-rounds`` / ``--max-attempts`` /
``--retry-wait`` (:mod:`protocols.cli.run_control`) measure Protocol I in checkpointed jobs:
all settings are drawn first (at most ``MAX_JOB_RUNS`` runs), and each job has its own device
stream, so the outcomes differ from a run without these options for the same ``--seed``; a
resumed run equals the uninterrupted checkpointed run. Protocol II supports neither.
"""

from __future__ import annotations

import argparse

from . import EXIT_NO_OUTPUT, EXIT_OK
from .arguments import add_backend_argument, positive_int, unit_interval
from .output import print_json
from .run_control import add_run_control_arguments, restore_run_arguments, run_control

#: Options that define a device run; a checkpoint stores them and ``--resume`` restores them.
RUN_OPTIONS = ("protocol", "sv_eps", "sv_strategy", "sv_file", "sv_file_format", "runs", "delta",
               "noise", "error", "bits", "backend", "device", "local_strategy", "seed")


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
                        help="acceptance threshold on L_n (default: 1.1 x the white-noise "
                             "expectation 4 xi (1/2 + eps)^4)")
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
    parser.add_argument("--plan", action="store_true",
                        help="only plan: smallest n (and N2) certifying --bits at --error")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--certificate", choices=("improved", "paper"), default="improved",
                        help="Protocol I certificate chain: improved "
                             "(docs/amplification_improved_certificate.md) or paper 004 Thm. 20")
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


def _plan(args: argparse.Namespace, delta: float) -> int:
    from protocols.amplification.protocol1 import CyclicShiftExtractor
    from protocols.amplification.certificate import plan_protocol1
    from protocols.amplification.protocol2 import plan_protocol2

    if args.protocol == 2:
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
    if args.json:
        print_json(report)
    else:
        runs = plan.required_runs if plan.required_runs is not None else "none"
        if args.protocol == 2 and plan.required_runs is not None:
            runs = (f"n = {plan.required_runs}, N2 = 2^{plan.required_blocks.bit_length() - 1}"
                    f" (2^{plan.total_runs.bit_length() - 1} to 2^{plan.total_runs.bit_length()}"
                    f" device runs; smallest n at any N2: "
                    f"{plan.smallest_runs})")
        print(f"smallest n certifying {plan.output_bits} bits at d_comp p(ACC) <= {args.error:g}"
              f" (eps = {args.sv_eps:g}, delta = {delta:g}): {runs}")
        if plan.reason:
            print(f"reason: {plan.reason}")
        _print_certificate(plan.certificate.to_dict())
    return EXIT_NO_OUTPUT


def _write_bits(path: str, bits) -> None:
    """ASCII 0/1 bits and a newline, atomically with mode 0600 (:func:`protocols.files.write_atomic`)."""
    from protocols.files import write_atomic

    write_atomic(path, ("".join("1" if b else "0" for b in bits) + "\n").encode(), secret=True)


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
    if args.runs is None and not args.plan:
        raise ValueError("--runs is required (the number n >= 1 of runs) unless --records or "
                         "--resume is given")
    if args.protocol == 2 and args.blocks is None:
        raise ValueError("--blocks is required with --protocol 2 (a power of 2 >= 1)")
    if args.protocol == 2 and (args.checkpoint or args.resume or args.job_rounds):
        raise ValueError("--checkpoint, --resume and --job-rounds support Protocol I only "
                         "(--protocol 1), got --protocol 2")


def run(args: argparse.Namespace) -> int:
    from protocols.amplification.protocol1 import default_delta
    from protocols.amplification.certificate import check_eps, check_error
    from protocols.bell.four_party import check_delta

    restore_run_arguments(args)
    _check_mode(args)
    if args.out is not None:  # before any device runs; never onto an input
        from protocols.files import check_output_path

        check_output_path(args.out, inputs=(args.records, args.sv_file), secret=True, option="--out")
    check_eps(args.sv_eps)
    check_error(args.error)
    delta = check_delta(args.delta if args.delta is not None
                        else default_delta(args.noise, args.sv_eps))
    if args.plan:
        return _plan(args, delta)
    if args.records is not None:
        return _run_records(args, delta)
    if args.protocol == 2:
        return _run_protocol2(args, delta)
    return _run_protocol1(args, delta)


def _run_protocol1(args: argparse.Namespace, delta: float) -> int:
    from protocols.amplification.protocol1 import CyclicShiftExtractor, run_protocol1

    device_runs: list = []
    control = run_control(args, RUN_OPTIONS, on_finish=device_runs.append) \
        if _uses_jobs(args) else None
    result = run_protocol1(_device(args), _source(args), args.runs, delta, args.error,
                           CyclicShiftExtractor(), output_bits=args.bits, control=control,
                           certificate=args.certificate)
    tests = [f"L_n           : {result.bell_test.bell_average:.6g} (delta = {delta:g})"]
    extra = {"device_run": device_runs[0].to_dict()} if device_runs else {}
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
                                  output_bits=args.bits, t=t, label=f"records {args.records}")
    tests = [f"L_n           : {result.bell_test.bell_average:.6g} (delta = {delta:g}, "
             f"{records.runs} recorded runs)"]
    return _report(args, result, tests, f"required runs : {result.required_runs}")


def _run_protocol2(args: argparse.Namespace, delta: float) -> int:
    from protocols.amplification.protocol2 import check_blocks, run_protocol2

    check_blocks(args.blocks)
    result = run_protocol2(_device(args, 1), _device(args, 2), _source(args), args.runs,
                           args.blocks, delta, args.error, output_bits=args.bits)
    tests = [f"L_n device 1  : {result.first_test.bell_average:.6g} (delta = {delta:g})",
             f"L_n block {result.block:<4d}: {result.block_test.bell_average:.6g} "
             f"(device 2, block chosen among {result.blocks})"]
    return _report(args, result, tests,
                   f"required runs : {result.required_runs}, blocks: {result.required_blocks}")


def _report(args: argparse.Namespace, result, test_lines: list[str], required: str,
            extra: dict | None = None) -> int:
    """Write the bits (``--out``), print the report (text or ``--json``), return the exit status.

    ``extra`` entries (e.g. ``device_run``) are added to the JSON report."""
    if result.output is not None and args.out is not None:
        _write_bits(args.out, result.output)
    report = {**result.to_dict(), **(extra or {})}
    if result.output is not None and args.out is None:
        report["bits"] = "".join(map(str, result.output.tolist()))
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
