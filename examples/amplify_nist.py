"""Certified Protocol I output, concatenated over many runs, through NIST SP 800-22-style tests.

Issue 10 ("Done when"): the output of many certified runs of Protocol I (paper 004, Fig. 1),
concatenated to at least 10^6 bits, passes the statistical tests of the suite
(``tests/nist_sts.py``: SP 800-22 rev. 1a Sec. 2.1 frequency, 2.2 block frequency, 2.3 runs).

1. The planner (``protocols.api.plan_protocol1``, improved chain,
   docs/amplification_improved_certificate.md) gives the smallest ``n`` certifying ``m`` bits
   (default 64) at ``d_comp p(ACC) <= error`` (default 2^-40) for the SV bias ``eps`` (default
   0.01) and ``delta = default_delta(0, eps) = 0`` (the ideal device never violates eq. (5)).
2. Protocol I (``protocols.api.run_protocol1``) runs again and again with ``n`` runs of the
   ideal emulated four-party device. One SV source and one device serve every run, and both
   streams only move forward, so each run draws fresh settings, fresh device outcomes and a
   fresh extractor seed ``t``: no raw data set is distilled twice.
3. Only certified outputs are kept (an aborted or not-certified run outputs nothing and is
   counted), concatenated until at least ``--bits`` bits, and tested at ``alpha = 0.01``. A
   sequence passes a test when ``p >= alpha``; a uniform sequence fails each test with
   probability ``alpha``, so about 3% of runs of a perfect generator fail one of the three.

Each ``m``-bit block carries its own certificate (the per-run bound printed, with the adversary
model and theorem); the tests are a statistical sanity check of the implementation, not a
security claim, and no claim is made about the concatenation as one string. As a control the
same tests run on as many raw bits of the SV source (a separate draw, never extracted): at
10^6 bits the raw ``iid-high`` source fails the frequency test, so the tests have power at the
tested length (at ``--quick``'s 2*10^4 bits a bias of 0.01 is below their resolution).

By default the SV source draws on the OS-keyed ChaCha20 generator (:mod:`qdevices.randomness`)
and the emulated device samples from an OS-seeded numpy stream; ``--seed`` makes a reproducible
run, marked "seeded (not secure)". Exit status: 0 when every test passes, 1 when one fails or
too few runs are certified, 2 on bad input.

Measured here (eps = 0.01, 64 bits at 2^-40, n = 866): 10^6 bits are 15,625 protocol runs
(1.35e7 device runs), about 47 s of CPU time (106-191 s wall on the shared 2-core machine);
``--quick`` about 4 s. No run aborted or ended uncertified: the ideal device never violates
eq. (5), so ``L_n = 0 <= delta``, and the certificate depends only on ``(n, eps, delta, m)``.

    python examples/amplify_nist.py [--quick] [--bits 1000000] [--eps 0.01] [--seed S] [--json FILE]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from protocols import api
from protocols.errors import BellboxInputError
from protocols.results import randomness_label
from qdevices import FourPartyDevice, Randomness
from qdevices.sources import NAMED_STRATEGIES, SVSource, named_source

ALPHA = 0.01
DEFAULT_BITS = 1_000_000
QUICK_BITS = 20_000
#: SP 800-22 needs at least 100 bits for the frequency and runs tests (Sec. 2.1.7, 2.3.7).
MIN_BITS = 100
#: Protocol runs that may end without output (this many, or 1% of those needed if more)
#: before the collection stops.
MIN_FAILURE_ALLOWANCE = 10


def _load_nist_tests() -> Any:
    """``tests/nist_sts.py`` of this repository, imported by path (it is not in the package)."""
    path = Path(__file__).resolve().parent.parent / "tests" / "nist_sts.py"
    spec = importlib.util.spec_from_file_location("bellbox_nist_sts", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


NIST = _load_nist_tests()


def block_size(bits: int) -> int:
    """The block length ``M`` of the block frequency test as SP 800-22 Sec. 2.2.7 recommends:
    ``M >= 20``, ``M > 0.01 n`` and ``N = floor(n / M) < 100``."""
    return max(20, bits // 99 + 1)


def nist_tests(bits: np.ndarray, alpha: float = ALPHA) -> list[dict[str, Any]]:
    """The suite's three SP 800-22-style tests on ``bits`` (0/1): one row per test with its
    parameters, the p-value and ``passed = p >= alpha``."""
    bits = np.asarray(bits, dtype=np.uint8)
    size = block_size(bits.size)
    p_values = [("frequency (SP 800-22 2.1)", {}, NIST.frequency_test(bits)),
                ("block frequency (SP 800-22 2.2)", {"M": size},
                 NIST.block_frequency_test(bits, size)),
                ("runs (SP 800-22 2.3)", {}, NIST.runs_test(bits))]
    return [{"test": name, "parameters": parameters, "p_value": p, "passed": bool(p >= alpha)}
            for name, parameters, p in p_values]


@dataclass
class Collection:
    """Certified outputs of repeated Protocol I runs and the tally of every run's outcome."""

    blocks: list[np.ndarray] = field(default_factory=list)
    status_counts: dict[str, int] = field(default_factory=dict)
    first_certified: Any = None
    worst_log2_error_bound: float = -math.inf

    @property
    def protocol_runs(self) -> int:
        return sum(self.status_counts.values())

    @property
    def bits(self) -> np.ndarray:
        return np.concatenate(self.blocks) if self.blocks else np.zeros(0, dtype=np.uint8)


def collect_certified(device: Any, source: SVSource, runs: int, output_bits: int, error: float,
                      target_bits: int, progress: Any = None) -> Collection:
    """Run Protocol I (``n = runs``, ``output_bits`` bits at ``error``) on ``device`` with the SV
    ``source`` until the certified outputs hold at least ``target_bits`` bits.

    Both streams continue from run to run (fresh settings, outcomes and seed ``t`` each time).
    Stops early, with fewer bits, once more than ``max(10, needed/100)`` runs were not
    certified (the caller reports it). ``progress(k)`` is called with each certified block.
    """
    needed = math.ceil(target_bits / output_bits)
    allowance = max(MIN_FAILURE_ALLOWANCE, needed // 100)
    collection = Collection()
    while len(collection.blocks) < needed and collection.protocol_runs - len(collection.blocks) <= allowance:
        result = api.run_protocol1(device, source, runs, error=error, output_bits=output_bits)
        collection.status_counts[result.status] = collection.status_counts.get(result.status, 0) + 1
        if not result.success:
            continue
        collection.blocks.append(result.output)
        if collection.first_certified is None:
            collection.first_certified = result
        collection.worst_log2_error_bound = max(collection.worst_log2_error_bound,
                                                result.certificate.log2_error_bound)
        if progress is not None:
            progress(result.output_bits)
    return collection


def _check_arguments(args: argparse.Namespace) -> None:
    """One-line :class:`BellboxInputError` for a parameter out of range, before any run."""
    if args.bits < MIN_BITS:
        raise BellboxInputError(f"--bits must be >= {MIN_BITS} (SP 800-22 minimum), got {args.bits}")
    if args.output_bits < 1:
        raise BellboxInputError(f"--output-bits must be >= 1, got {args.output_bits}")
    if not 0.0 <= args.eps < 0.5:
        raise BellboxInputError(f"--eps (SV bias) must be in [0, 0.5), got {args.eps}")
    if not 0.0 < args.error < 1.0:
        raise BellboxInputError(f"--error must be in (0, 1), got {args.error}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_BITS} bits instead of --bits (CI); same code path")
    parser.add_argument("--bits", type=int, default=DEFAULT_BITS, help="bits to collect and test")
    parser.add_argument("--output-bits", type=int, default=64, help="bits a protocol run outputs")
    parser.add_argument("--error", type=float, default=api.DEFAULT_ERROR,
                        help="required d_comp p(ACC) bound per run")
    parser.add_argument("--eps", type=float, default=0.01, help="SV bias of the source")
    parser.add_argument("--strategy", choices=NAMED_STRATEGIES, default="iid-high",
                        help="SV source strategy (qdevices.sources.named_source)")
    parser.add_argument("--seed", type=int, default=None,
                        help="reproducible seeded run (marked 'seeded (not secure)')")
    parser.add_argument("--json", metavar="FILE", default=None, help="write the JSON report ('-': stdout)")
    return parser


def _report(args: argparse.Namespace, plan: Any, device: Any, source: SVSource,
            collection: Collection, rows: list[dict[str, Any]], control_rows: list[dict[str, Any]],
            timings: dict[str, float]) -> dict[str, Any]:
    result = collection.first_certified
    return {
        "bits_tested": int(collection.bits.size),
        "target_bits": args.target_bits,
        "alpha": ALPHA,
        "all_passed": bool(rows) and all(row["passed"] for row in rows),
        "tests": rows,
        "raw_sv_control": control_rows,
        "sv_eps": args.eps,
        "sv_strategy": args.strategy,
        "randomness": randomness_label(bool(source.secure)),
        "device": device.describe(),
        "output_bits_per_run": args.output_bits,
        "requested_error_per_run": args.error,
        "runs_per_protocol_run": plan.required_runs,
        "planned_extractor": plan.extractor,
        "runs_by_extractor": dict(plan.runs_by_extractor),
        "protocol_runs": collection.protocol_runs,
        "certified_runs": len(collection.blocks),
        "status_counts": collection.status_counts,
        "device_runs": collection.protocol_runs * plan.required_runs,
        "worst_log2_error_bound_per_run": collection.worst_log2_error_bound if collection.blocks else None,
        "adversary_model": result.adversary_model if result else None,
        "theorem": result.theorem if result else None,
        "first_certified_run": result.to_dict() if result else None,
        "timings_s": timings,
    }


def _round_up(log2_bound: float) -> float:
    """``log2_bound`` rounded up to 2 decimals, so the printed bound is never smaller."""
    return math.ceil(100.0 * log2_bound) / 100.0


def _print_table(report: dict[str, Any]) -> None:
    print(f"{'test':<32} {'p-value':>10}  pass (alpha={ALPHA:g})   raw SV input p")
    for row, control in zip(report["tests"], report["raw_sv_control"]):
        print(f"{row['test']:<32} {row['p_value']:>10.4g}  {'yes' if row['passed'] else 'NO':<17} "
              f"{control['p_value']:>10.4g}")
    verdict = "all passed" if report["all_passed"] else "NOT all passed"
    print(f"{report['bits_tested']} certified bits: {verdict} "
          f"(randomness: {report['randomness']})")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    args.target_bits = QUICK_BITS if args.quick else args.bits
    try:
        _check_arguments(args)
        plan = api.plan_protocol1(args.output_bits, sv_eps=args.eps, error=args.error)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if plan.required_runs is None:
        print(f"not certifiable: {plan.reason}", file=sys.stderr)
        return 1
    print(f"plan: n = {plan.required_runs} runs certify {args.output_bits} bits at error "
          f"2^{math.log2(args.error):.4g} for eps = {args.eps:g} (extractor {plan.extractor}; n by extractor "
          f"{dict(plan.runs_by_extractor)})", file=sys.stderr)

    from tqdm import tqdm

    device = FourPartyDevice(0.0, seed=args.seed)
    source = named_source(args.strategy, args.eps, Randomness(seed=args.seed))
    start = time.perf_counter()
    with tqdm(total=args.target_bits, desc="certified bits", unit="bit", unit_scale=True,
              disable=None) as bar:
        collection = collect_certified(device, source, plan.required_runs, args.output_bits,
                                       args.error, args.target_bits, progress=bar.update)
    collected = time.perf_counter()
    bits = collection.bits
    rows = nist_tests(bits) if bits.size >= MIN_BITS else []
    control_seed = None if args.seed is None else args.seed + 1
    control_source = named_source(args.strategy, args.eps, Randomness(seed=control_seed))
    control_rows = nist_tests(control_source.bits(max(bits.size, MIN_BITS)))
    timings = {"collect": collected - start, "tests": time.perf_counter() - collected,
               "certified_bits_per_s": bits.size / max(collected - start, 1e-9)}
    report = _report(args, plan, device, source, collection, rows, control_rows, timings)

    if args.json == "-":
        print(json.dumps(report, indent=2, allow_nan=False))
    else:
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=2, allow_nan=False) + "\n")
        print(f"{report['protocol_runs']} protocol runs of n = {plan.required_runs} in "
              f"{timings['collect']:.1f} s: {report['status_counts']}")
        if rows:
            print(f"per-run certificate: d_comp p(ACC) <= "
                  f"2^{_round_up(collection.worst_log2_error_bound):.2f} ({report['adversary_model']}; "
                  f"{report['theorem']})")
            _print_table(report)
    if bits.size < args.target_bits:
        print(f"stopped: only {bits.size} of {args.target_bits} bits certified "
              f"({collection.status_counts})", file=sys.stderr)
        return 1
    return 0 if report["all_passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
