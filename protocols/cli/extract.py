"""``bellbox extract``: Toeplitz hashing and two-/three-source extraction on bit files.

The output length comes from the calculators of :mod:`extractors` (leftover hash lemma for
Toeplitz; the two-source bounds of :mod:`extractors.bounds`) unless ``--bits`` is given, in which
case the claimed min-entropies must support it. Claims that cannot support any output (or the
requested one) are refused with one line on stderr and exit status 2. ``--bits`` without
``--min-entropy`` certifies nothing, so it is refused (exit status 2, nothing written) unless
``--uncertified`` is also given; then the output is written and the report says
``"certified": false`` with the reason (``uncertified_reason``), exit status 3 (no certified output).
The output path is checked before any input is read (it must not be an input, and the
inputs must be distinct files: one file given twice is not two independent sources); output is
written atomically with mode 0600 (:func:`protocols.files.write_atomic`), and no bit of input
or output is ever printed.
"""

from __future__ import annotations

import argparse

from . import EXIT_NO_OUTPUT, EXIT_OK

METHODS = ("toeplitz", "two-source", "three-source")
UNCERTIFIED_REASON = ("--uncertified: no --min-entropy claim was given, so no bound on the "
                      "output's distance from uniform holds; the bits may be far from uniform")
DEFAULT_ERROR = 1e-9
_STREAM_THRESHOLD_BITS = 1 << 26  # binary cyclic-shift inputs longer than this are streamed


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "extract",
        help="extract nearly uniform bits from weak sources (Toeplitz, two-, three-source)",
        description="Extract nearly uniform bits from files; prints a JSON report.",
    )
    parser.add_argument("method", choices=METHODS)
    parser.add_argument("--in", dest="inputs", action="append", required=True, metavar="FILE",
                        help="input bit file (toeplitz: 1, two-source: 2, three-source: 3)")
    parser.add_argument("--seed-file", metavar="FILE",
                        help="toeplitz: uniform seed file; its first n + m - 1 bits are used")
    parser.add_argument("--out", required=True, metavar="FILE", help="output bit file (mode 0600)")
    parser.add_argument("--min-entropy", dest="min_entropies", action="append", type=float,
                        metavar="K", help="claimed min-entropy in bits, one per --in, in order")
    parser.add_argument("--error", type=float, default=DEFAULT_ERROR,
                        help="target statistical distance from uniform "
                             f"(default {DEFAULT_ERROR:g})")
    parser.add_argument("--bits", type=int, metavar="M",
                        help="output length (else the calculator's)")
    parser.add_argument("--uncertified", action="store_true",
                        help="with --bits and no --min-entropy: write the output although no "
                             "claim certifies it (the report says certified: false)")
    parser.add_argument("--format", choices=("bin", "ascii"), default="bin",
                        help="format of input and output files (default bin, MSB-first bytes)")
    parser.add_argument("--construction", choices=("cyclic-shift", "inner-product"),
                        default="cyclic-shift", help="two-/three-source construction")
    parser.add_argument("--quantum-proof", action="store_true",
                        help="two-/three-source: bound valid against quantum side information "
                             "in the Markov model (Arnon-Friedman, Portmann, Scholz 2016)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from protocols.cli.output import print_json

    expected = {"toeplitz": 1, "two-source": 2, "three-source": 3}[args.method]
    if len(args.inputs) != expected:
        raise ValueError(f"--in must be given {expected} time(s) for {args.method}, "
                         f"got {len(args.inputs)}")
    entropies = args.min_entropies or []
    if entropies and len(entropies) != expected:
        raise ValueError(f"--min-entropy must be given {expected} time(s) (one per --in), "
                         f"got {len(entropies)}")
    if not entropies and args.bits is None:
        raise ValueError("--min-entropy is required unless --bits is given")
    if not entropies and not args.uncertified:
        raise ValueError(f"--bits={args.bits} without --min-entropy certifies nothing: give "
                         f"--min-entropy (one per --in) or add --uncertified to write the bits anyway")
    if entropies and args.uncertified:
        raise ValueError("--uncertified is only for --bits without --min-entropy; with "
                         "--min-entropy the output is certified")
    _check_files(args)
    if args.method == "toeplitz":
        report = _toeplitz(args, entropies)
    else:
        report = _multi_source(args, entropies)
    report.update({"method": args.method, "out": args.out, "format": args.format})
    if not report["certified"]:
        report["uncertified_reason"] = UNCERTIFIED_REASON
    print_json(report)
    # --bits --uncertified without --min-entropy: output written but nothing certified.
    return EXIT_OK if report["certified"] else EXIT_NO_OUTPUT


def _check_files(args: argparse.Namespace) -> None:
    """Inputs are distinct files (and not the seed file); ``--out`` is none of them."""
    import os

    from protocols.files import OutputPathError, check_output_path

    inputs = list(args.inputs) + ([args.seed_file] if args.seed_file is not None else [])
    for k, first in enumerate(inputs):
        for second in inputs[k + 1:]:
            if os.path.exists(first) and os.path.exists(second) and os.path.samefile(first, second):
                raise OutputPathError(f"--in/--seed-file: {first!r} and {second!r} are the same file; the "
                                      "sources must be independent, so give distinct files")
    check_output_path(args.out, inputs=inputs, secret=True, option="--out")


def _write(args: argparse.Namespace, bits) -> None:
    from extractors.bits import encode_bits
    from protocols.files import write_atomic

    write_atomic(args.out, encode_bits(bits, args.format), secret=True)


def _toeplitz(args: argparse.Namespace, entropies: list[float]) -> dict:
    from extractors import toeplitz_hash, toeplitz_parameters, toeplitz_seed_length
    from extractors.bits import read_bits

    if args.seed_file is None:
        raise ValueError("--seed-file is required for toeplitz")
    bits = read_bits(args.inputs[0], args.format)
    report: dict = {"input_length": int(bits.size)}
    if entropies:
        plan = toeplitz_parameters(bits.size, entropies[0], args.error, args.bits)
        m = plan.output_length
        report.update(min_entropy=plan.min_entropy, error=plan.error, log2_error=plan.log2_error,
                      reference=plan.reference, certified=True)
    else:
        m = args.bits
        report.update(min_entropy=None, error=None, certified=False)
    seed_length = toeplitz_seed_length(bits.size, m)
    seed = read_bits(args.seed_file, args.format)
    if seed.size < seed_length:
        raise ValueError(f"--seed-file must hold at least n + m - 1 = {seed_length} bits, "
                         f"got {seed.size}")
    _write(args, toeplitz_hash(bits, seed[:seed_length], m))
    report.update(output_length=m, seed_bits_used=seed_length)
    return report


def _multi_source(args: argparse.Namespace, entropies: list[float]) -> dict:
    from extractors.bits import bit_count_of_file, read_bits

    if args.format == "bin":
        lengths = [bit_count_of_file(path) for path in args.inputs]
    else:
        sources = [read_bits(path, "ascii") for path in args.inputs]
        lengths = [s.size for s in sources]
    # Without claims (--bits only) full entropy fixes the lengths; no error is reported then.
    claims = entropies if entropies else [float(n) for n in lengths]
    plan = _plan(args, lengths, claims)
    two = plan if args.method == "two-source" else plan.two_source
    if args.format == "bin" and two.construction == "cyclic-shift" \
            and two.input_length > _STREAM_THRESHOLD_BITS:
        output = _stream_cyclic(args, two)
    else:
        if args.format == "bin":
            sources = [read_bits(path, "bin") for path in args.inputs]
        output = _extract_in_memory(args.method, sources, plan)
    _write(args, output)
    certified = bool(entropies)
    return {
        "construction": two.construction,
        "source_lengths": lengths,
        "padded_length": two.input_length,
        "output_length": two.output_length,
        "min_entropies": entropies or None,
        "error": two.error if certified else None,
        "log2_error": two.log2_error if certified else None,
        "quantum_proof": two.quantum_proof,
        "field_degree": two.field_degree,
        "reference": two.reference,
        "certified": certified,
        "error_is_statistical_distance": True,
    }


def _plan(args: argparse.Namespace, lengths: list[int], claims: list[float]):
    from extractors import (
        cyclic_shift_parameters,
        inner_product_parameters,
        three_source_parameters,
    )

    if args.method == "three-source":
        return three_source_parameters(lengths[0], claims[0], lengths[1], claims[1], lengths[2],
                                       claims[2], args.error, args.quantum_proof, args.bits,
                                       args.construction)
    calculator = cyclic_shift_parameters if args.construction == "cyclic-shift" \
        else inner_product_parameters
    return calculator(lengths[0], claims[0], lengths[1], claims[1], args.error,
                      args.quantum_proof, args.bits)


def _stream_cyclic(args: argparse.Namespace, two) -> object:
    from pathlib import Path

    from extractors import FileWordSource, cyclic_shift_extract_stream

    if args.method == "three-source":
        raise ValueError("three-source inputs longer than 2^26 bits must be given as one "
                         "concatenated file per side: use two-source with --in X1 --in X2X3")
    x, y = (FileWordSource(Path(p)) for p in args.inputs)
    return cyclic_shift_extract_stream(x, y, two.input_length, two.output_length)


def _extract_in_memory(method: str, sources: list, plan) -> object:
    from extractors import extract_two_source, three_source_extract

    if method == "two-source":
        return extract_two_source(sources[0], sources[1], plan)
    return three_source_extract(sources[0], sources[1], sources[2], plan)
