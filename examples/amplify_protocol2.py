"""Protocol II (two four-party devices) with the improved certificate: plan, stream, certify
(issue 10, item 3).

1. The planner (``protocols.api.plan_protocol2``, improved chain,
   docs/amplification_protocol2_improved.md) sizes ``(n, N2)`` for ``--bits`` bits at
   ``d_comp p(ACC) <= --error`` from an eps-SV source (ideal devices, ``delta = 0``), comparing the
   cyclic shift and the short-seed polynomial hash on ``x || y_j``.
2. Protocol II runs on two emulated ideal devices (exact quantum statistics): the SV bits are drawn
   in the order ``v^1..v^N2`` (all blocks of device 2, streamed in chunks; outputs kept packed,
   4 bits a run), ``u`` (device 1), the block index ``j``, the seed ``t``; both accepted Bell
   counts are tested and the extractor the certificate picked is applied.

Default: the de Finetti route, the paper's block structure (eps = 0.01, 1 bit at 0.05: N2 = 2^23
blocks of n ~ 66 runs, ~5.5e8 device runs, ~280 MB of packed outputs), with a tqdm progress bar;
the chosen block is not published (N2 > 1). ``--quick`` (CI): the chain-rule route, which plans
N2 = 1 (~104 runs). Seeded, so the output is reproducible and marked not secure. Prints the
certificate's route, terms, assumptions, the wall time and the peak memory (``ru_maxrss``).
"""

from __future__ import annotations

import argparse
import resource
import time

from tqdm import tqdm

from protocols import api
from qdevices import FourPartyDevice, Randomness
from qdevices.sources import named_source


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="chain-rule route (N2 = 1, about 100 runs) for CI")
    parser.add_argument("--eps", type=float, default=0.01, help="SV parameter (default 0.01)")
    parser.add_argument("--bits", type=int, default=1, help="output bits (default 1)")
    parser.add_argument("--error", type=float, default=0.05,
                        help="required bound on d_comp p(ACC) (default 0.05)")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    route = "chain-rule" if args.quick else "de-finetti"

    plan = api.plan_protocol2(args.bits, sv_eps=args.eps, error=args.error, route=route)
    print(f"plan ({plan.route}): n = {plan.required_runs}, N2 = {plan.required_blocks}, "
          f"{plan.total_runs} device runs; {plan.reason}")
    if plan.required_runs is None:
        raise SystemExit(f"out of reach: {plan.reason}")

    source = named_source("iid-high", args.eps, Randomness(args.seed))
    first = FourPartyDevice(0.0, seed=args.seed + 1)
    second = FourPartyDevice(0.0, seed=args.seed + 2)
    start = time.perf_counter()
    with tqdm(total=plan.total_runs, unit="run", unit_scale=True, disable=None) as bar:
        result = api.run_protocol2(first, second, source, plan.required_runs,
                                   plan.required_blocks, error=args.error,
                                   output_bits=args.bits, route=route, progress=bar.update)
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report = result.to_dict()
    certificate = report["certificate"]
    print(f"status: {result.status}" + (f" ({result.reason})" if result.reason else ""))
    index = f"index {result.block}" if report["chosen_block_published"] else "index withheld"
    print(f"L_n device 1 = {result.first_test.bell_average:g}, L_n chosen block = "
          f"{result.block_test.bell_average:g} (delta = {result.first_test.delta:g}; {index})")
    print(f"d_comp p(ACC) <= 2^{result.certificate.log2_error_bound:.3f} (requested "
          f"{args.error:g}); adversary: {result.adversary_model}; theorem: {result.theorem}")
    print(f"route: {certificate['route']}; extractor: {certificate['extractor']}")
    for key in ("pair_min_entropy", "bell_count_values", "block_index_bits",
                "log2_block_choice_factor", "log2_extractor_error", "log2_good_term",
                "log2_bad_term", "log2_de_finetti_term", "log2_count_factor"):
        print(f"  {key:26s}: {certificate[key]}")
    for assumption in certificate["assumptions"]:
        print(f"  assumption: {assumption}")
    if result.output is not None:
        bits = "".join(str(int(bit)) for bit in result.output)
        print(f"output bits: {bits} ({report['randomness']})")
    print(f"time: {seconds:.1f} s for {plan.total_runs} runs; peak memory: {peak_mb:.0f} MB")
    if not result.success:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
