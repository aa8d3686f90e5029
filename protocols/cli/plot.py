"""``bellbox plot``: figures of the papers, drawn with matplotlib (Agg backend).

Each figure is a sub-subcommand registered by its own ``_register_<name>`` function and
drawn by its own handler, so new figures are added next to the existing ones. Every figure
takes ``--out FILE`` (written atomically through :func:`protocols.files.write_atomic`, checked
before anything is computed), ``--json`` (the plotted data as one JSON object, ``null`` where a
curve has no value) and ``--points K`` with a per-figure maximum (a larger K is a one-line
error, exit status 2). The computation shows a tqdm progress bar on a terminal only.

* ``bellbox plot rate [--adversary no-signaling|quantum|both]``: paper 000 Fig. 2, the
  gamma-optimised asymptotic key rate against the noise xi for M = 5, 7, 11, 15: eq. (21)
  (minimum over theta, no-signalling adversary) and, with ``quantum`` or ``both``, the
  quantum-adversary rate of docs/quantum_chained_key.md (:mod:`protocols.qkd.quantum_keyrate`).
* ``bellbox plot finite``: the expected finite key length (honest devices of Sec. III C, planned
  counts, Shannon-limit leak) against the number of rounds N for several noise levels, eq. (17)
  (no-signalling) and N_s^Q (quantum); an expectation, not a certificate of a run.
* ``bellbox plot runs``: the smallest number of Protocol I runs n that certifies 64 bits at
  ``d_comp p(ACC) <= 2^-40`` against the SV parameter eps: paper 004's Theorem 20 chain, the
  improved chain with the cyclic-shift extractor and with the short-seed polynomial hash
  (docs/amplification_improved_certificate.md), for an ideal and a noisy device (delta = the
  ``bellbox amplify`` default for that noise).
* ``bellbox plot tradeoff``: paper 004 Fig. 6, the largest tolerated delta for each SV eps
  (eq. (111)), with the paper's Lemma 11 bound and with the run-time LP.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from protocols.files import check_output_path

from . import EXIT_OK
from .arguments import open_unit_interval, positive_int, unit_interval
from .output import print_json

FIGURE_2_SETTINGS = (5, 7, 11, 15)
FIGURE_2_MAX_NOISE = 0.03
QUANTUM_MAX_NOISE = 0.1
ADVERSARY_CHOICES = ("no-signaling", "quantum", "both")
FINITE_NOISES = (0.0, 0.01, 0.02)
FINITE_EPS = 1e-9
RUNS_OUTPUT_BITS = 64
RUNS_ERROR = 2.0**-40
RUNS_NOISY = 0.01
RUNS_CHAINS = ("paper", "improved", "short-seed")
#: The largest ``--points`` per figure (at the maximum, about a minute of computation here).
MAX_POINTS = {"rate": 1001, "finite": 200, "runs": 61, "tradeoff": 401}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("plot", help="draw the papers' figures (matplotlib)")
    figures = parser.add_subparsers(dest="figure", required=True, parser_class=type(parser))
    _register_rate(figures)
    _register_finite(figures)
    _register_runs(figures)
    _register_tradeoff(figures)


# --------------------------------------------------------------------------------------------
# Shared pieces
# --------------------------------------------------------------------------------------------


def _points_argument(figure: str) -> Callable[[str], int]:
    """``--points``: an integer in [2, MAX_POINTS[figure]]."""
    maximum = MAX_POINTS[figure]

    def points(text: str) -> int:
        value = positive_int(text)
        if not 2 <= value <= maximum:
            raise argparse.ArgumentTypeError(
                f"expected an integer in [2, {maximum}] for plot {figure}, got {text!r}")
        return value

    return points


def _figure_parser(figures: argparse._SubParsersAction, name: str, help_text: str, points: int,
                   points_help: str) -> argparse.ArgumentParser:
    """A figure's parser with the shared ``--out``, ``--points`` and ``--json`` options."""
    parser = figures.add_parser(name, help=help_text)
    parser.add_argument("--out", default=f"{name}.png", metavar="FILE.png",
                        help=f"output image, format from the suffix (default {name}.png)")
    parser.add_argument("--points", type=_points_argument(name), default=points, metavar="K",
                        help=f"{points_help} (default {points}, at most {MAX_POINTS[name]})")
    parser.add_argument("--json", action="store_true", help="also print the plotted data as one JSON object")
    return parser


def _number_list(text: str, kind: Callable[[str], object], what: str) -> tuple:
    try:
        values = tuple(kind(part) for part in text.split(","))
    except (ValueError, argparse.ArgumentTypeError):
        raise argparse.ArgumentTypeError(f"expected comma-separated {what}, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError(f"expected comma-separated {what}, got {text!r}")
    return values


def _settings_list(text: str) -> tuple[int, ...]:
    values = _number_list(text, int, "integers >= 2")
    if min(values) < 2:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers >= 2, got {text!r}")
    return values


def _noise_list(text: str) -> tuple[float, ...]:
    return _number_list(text, unit_interval, "noise values in [0, 1]")


def _progress(total: int, description: str):
    """A tqdm bar for ``total`` steps, shown on a terminal only (``disable=None``)."""
    from tqdm import tqdm

    return tqdm(total=total, desc=description, unit="point", disable=None, leave=False)


def _new_axes():
    """A fresh figure and axes on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(6.4, 4.2))


def _save(figure, axes, out: str, legend_location: str = "best") -> None:
    """Legend, grid, layout; write ``out`` atomically (format from its suffix, png without one)
    and release the figure."""
    import io

    import matplotlib.pyplot as plt

    from protocols.files import write_atomic

    axes.legend(fontsize="small", loc=legend_location)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, dpi=120, format=Path(out).suffix[1:] or "png")
    plt.close(figure)
    write_atomic(out, buffer.getvalue())


def _models(adversary: str) -> tuple[str, ...]:
    return ("no-signaling", "quantum") if adversary == "both" else (adversary,)


def _model_descriptions(models: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """The theorem and the device assumption behind each adversary model's curves."""
    from protocols.qkd import quantum_keyrate

    described = {
        "no-signaling": {"source": "paper 000 eqs. (17), (21) with min over theta; eq. (26); lambda = xi/2",
                         "assumptions": quantum_keyrate.NO_SIGNALING_ASSUMPTIONS},
        "quantum": {"source": quantum_keyrate.SOURCE, "assumptions": quantum_keyrate.ASSUMPTIONS},
    }
    return {model: described[model] for model in models}


_LINE_STYLE = {"no-signaling": "-", "quantum": "--"}
_MODEL_LABEL = {"no-signaling": "no-signaling", "quantum": "quantum"}


# --------------------------------------------------------------------------------------------
# plot rate: paper 000 Fig. 2, both adversary models
# --------------------------------------------------------------------------------------------


def _register_rate(figures: argparse._SubParsersAction) -> None:
    parser = _figure_parser(figures, "rate", "paper 000 Fig. 2: key rate against noise", 61,
                            "noise values per curve, evenly spaced on [0, --max-noise]")
    parser.add_argument("--settings", type=_settings_list, default=FIGURE_2_SETTINGS, metavar="M1,M2,...",
                        help="numbers of settings to draw (default 5,7,11,15 as in Fig. 2)")
    parser.add_argument("--adversary", choices=ADVERSARY_CHOICES, default="no-signaling",
                        help="no-signaling (eq. 21, the paper's Fig. 2; default), quantum "
                             "(docs/quantum_chained_key.md) or both side by side")
    parser.add_argument("--max-noise", type=open_unit_interval, metavar="XI",
                        help=f"largest noise drawn (default {FIGURE_2_MAX_NOISE} for no-signaling, "
                             f"{QUANTUM_MAX_NOISE} with quantum)")
    parser.set_defaults(handler=_plot_rate)


def _rate_functions(model: str):
    """``(rate(settings, noise), threshold(settings))`` of an adversary model."""
    from protocols.qkd.keyrate import asymptotic_rate, noise_threshold
    from protocols.qkd.quantum_keyrate import asymptotic_quantum_rate, quantum_noise_threshold

    if model == "quantum":
        return (lambda m, xi: asymptotic_quantum_rate(settings=m, noise=xi).rate,
                lambda m: quantum_noise_threshold(settings=m))
    return (lambda m, xi: asymptotic_rate(settings=m, noise=xi).rate,
            lambda m: noise_threshold(settings=m))


def _plot_rate(args: argparse.Namespace) -> int:
    check_output_path(args.out, option="--out")  # before the curves are computed

    models = _models(args.adversary)
    max_noise = args.max_noise if args.max_noise is not None else (
        FIGURE_2_MAX_NOISE if models == ("no-signaling",) else QUANTUM_MAX_NOISE)
    noises = np.linspace(0.0, max_noise, args.points)
    curves: dict[str, dict[int, list[float]]] = {model: {} for model in models}
    thresholds: dict[str, dict[int, float]] = {model: {} for model in models}
    figure, axes = _new_axes()
    colours = {m: f"C{k}" for k, m in enumerate(args.settings)}
    with _progress(len(models) * len(args.settings) * (args.points + 1), "plot rate") as bar:
        for model in models:
            rate, threshold = _rate_functions(model)
            for settings in args.settings:
                curves[model][settings] = [rate(settings, float(xi)) for xi in noises]
                thresholds[model][settings] = threshold(settings)
                bar.update(args.points + 1)
                label = f"M={settings}" + (f", {_MODEL_LABEL[model]}" if len(models) > 1 else "")
                axes.plot(noises, curves[model][settings], _LINE_STYLE[model], color=colours[settings],
                          label=label)
    axes.set_xlim(0.0, max_noise)
    axes.set_ylim(bottom=0.0)
    axes.set_xlabel(r"noise $\xi$")
    axes.set_ylabel(r"key rate $N_s/N$ (bits per round)")
    adversaries = {"no-signaling": "no-signaling adversary", "quantum": "quantum adversary",
                   "both": "no-signaling (solid) vs quantum (dashed)"}[args.adversary]
    axes.set_title(rf"DI-QKD key rate, $\gamma$ optimised (paper 000, Fig. 2)" + f"\n{adversaries}",
                   fontsize="medium")
    _save(figure, axes, args.out)
    if args.json:
        payload: dict[str, object] = {"figure": "rate", "out": args.out, "adversary_model": args.adversary,
                                      "models": _model_descriptions(models), "noise": noises}
        for model in models:
            prefix = "" if model == "no-signaling" else "quantum_"
            payload[f"{prefix}rates"] = {str(m): rates for m, rates in curves[model].items()}
            payload[f"{prefix}noise_thresholds"] = {str(m): t for m, t in thresholds[model].items()}
        print_json(payload)
    else:
        print(f"wrote {args.out}")
        for model in models:
            for settings in args.settings:
                print(f"{model:>12}, M = {settings:2d}: rate {curves[model][settings][0]:.6f} at xi = 0, "
                      f"zero above xi = {thresholds[model][settings]:.5f}")
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# plot finite: expected finite key length against N
# --------------------------------------------------------------------------------------------


def _register_finite(figures: argparse._SubParsersAction) -> None:
    parser = _figure_parser(figures, "finite", "expected finite key length against the number of rounds",
                            13, "numbers of rounds per curve, log-spaced on [--min-rounds, --max-rounds]")
    parser.add_argument("--settings", type=int, default=7, metavar="M",
                        help="number of Alice's settings M >= 2 (default 7)")
    parser.add_argument("--noise", type=_noise_list, default=FINITE_NOISES, metavar="XI1,XI2,...",
                        help="white-noise levels, one curve each (default 0,0.01,0.02)")
    parser.add_argument("--adversary", choices=ADVERSARY_CHOICES, default="both",
                        help="no-signaling (eq. 17), quantum (docs/quantum_chained_key.md) or both (default)")
    parser.add_argument("--eps", type=open_unit_interval, default=FINITE_EPS, metavar="E",
                        help=f"secrecy parameter eps (default {FINITE_EPS:g})")
    parser.add_argument("--min-rounds", type=positive_int, default=10**4, metavar="N",
                        help="smallest number of rounds (default 1e4)")
    parser.add_argument("--max-rounds", type=positive_int, default=10**10, metavar="N",
                        help="largest number of rounds (default 1e10)")
    parser.set_defaults(handler=_plot_finite)


def _expected_bits(model: str, settings: int, noise: float, rounds: int, eps: float) -> int:
    """The expected key length at ``rounds`` (0 when no expected estimation/raw-key round)."""
    from protocols.qkd.keyrate import KeyRateInputError, expected_key_length
    from protocols.qkd.quantum_keyrate import expected_quantum_key_length

    expected = expected_quantum_key_length if model == "quantum" else expected_key_length
    try:
        return expected(settings=settings, noise=noise, rounds=rounds, eps=eps).bits
    except KeyRateInputError:
        return 0


def _plot_finite(args: argparse.Namespace) -> int:
    from protocols.qkd.keyrate import KeyRateInputError

    if args.settings < 2:
        raise KeyRateInputError(f"--settings={args.settings} must be an integer >= 2")
    if args.max_rounds <= args.min_rounds:
        raise KeyRateInputError(f"--max-rounds={args.max_rounds} must exceed --min-rounds={args.min_rounds}")
    check_output_path(args.out, option="--out")  # before the curves are computed

    models = _models(args.adversary)
    rounds = np.unique(np.round(np.geomspace(args.min_rounds, args.max_rounds, args.points)).astype(np.int64))
    lengths: dict[str, dict[float, list[int]]] = {model: {} for model in models}
    figure, axes = _new_axes()
    with _progress(len(models) * len(args.noise) * rounds.size, "plot finite") as bar:
        for model in models:
            for k, noise in enumerate(args.noise):
                bits = []
                for n in rounds:
                    bits.append(_expected_bits(model, args.settings, noise, int(n), args.eps))
                    bar.update()
                lengths[model][noise] = bits
                shown = np.where(np.array(bits) > 0, np.array(bits, dtype=float), np.nan)  # log axes
                label = rf"$\xi$={noise:g}" + (f", {_MODEL_LABEL[model]}" if len(models) > 1 else "")
                axes.plot(rounds, shown, _LINE_STYLE[model], marker=".", color=f"C{k}", label=label)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("rounds N")
    axes.set_ylabel("expected key length (bits)")
    axes.set_title(f"DI-QKD expected finite key (honest devices), M = {args.settings}, eps = {args.eps:g}\n"
                   + ("no-signaling (solid) vs quantum (dashed)" if len(models) > 1 else f"{models[0]} adversary"),
                   fontsize="medium")
    _save(figure, axes, args.out)
    if args.json:
        payload: dict[str, object] = {
            "figure": "finite", "out": args.out, "adversary_model": args.adversary, "settings": args.settings,
            "eps": args.eps, "key_length_is_expectation": True, "models": _model_descriptions(models),
            "rounds": rounds, "noise": list(args.noise),
            "key_lengths": {model: {f"{noise:g}": bits for noise, bits in by_noise.items()}
                            for model, by_noise in lengths.items()},
        }
        print_json(payload)
    else:
        print(f"wrote {args.out}")
        for model in models:
            for noise, bits in lengths[model].items():
                print(f"{model:>12}, xi = {noise:g}: {bits[-1]} bits expected at N = {rounds[-1]:.3g}")
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# plot runs: Protocol I runs for 64 bits at 2^-40 against eps
# --------------------------------------------------------------------------------------------


def _register_runs(figures: argparse._SubParsersAction) -> None:
    parser = _figure_parser(figures, "runs", "Protocol I runs n for 64 bits at 2^-40 against SV eps", 16,
                            "SV eps values, evenly spaced on [--min-eps, --max-eps]")
    parser.add_argument("--bits", type=positive_int, default=RUNS_OUTPUT_BITS, metavar="M",
                        help=f"output bits (default {RUNS_OUTPUT_BITS})")
    parser.add_argument("--error", type=open_unit_interval, default=RUNS_ERROR, metavar="E",
                        help="required bound on d_comp p(ACC) (default 2^-40)")
    parser.add_argument("--noise", type=unit_interval, default=RUNS_NOISY, metavar="XI",
                        help=f"white noise of the noisy device (default {RUNS_NOISY}; the ideal device has 0)")
    parser.add_argument("--min-eps", type=float, default=0.0, metavar="EPS",
                        help="smallest SV eps (default 0)")
    parser.add_argument("--max-eps", type=float, default=0.3, metavar="EPS",
                        help="largest SV eps, below 1/2 (default 0.3)")
    parser.set_defaults(handler=_plot_runs)


def _required_runs(chain: str, bits: int, error: float, eps: float, noise: float) -> int | None:
    """Smallest certifying n of ``chain`` (``None``: none up to the planner's limit), with the
    ``bellbox amplify`` default delta for ``noise``."""
    from protocols.amplification.improved_certificate import plan_protocol1_improved
    from protocols.api import plan_protocol1, resolve_delta

    if chain == "paper":
        return plan_protocol1(bits, sv_eps=eps, error=error, noise=noise, certificate="paper").required_runs
    extractor = "cyclic-shift" if chain == "improved" else "polynomial-hash"
    delta = resolve_delta(None, eps, noise)
    return plan_protocol1_improved(bits, error, eps, delta, extractors=(extractor,)).required_runs


_CHAIN_LABEL = {"paper": "paper 004 chain (Thm. 20)", "improved": "improved chain, cyclic shift",
                "short-seed": "improved chain, short-seed hash"}


def _plot_runs(args: argparse.Namespace) -> int:
    from protocols.amplification.certificate import CertificateInputError

    if not 0.0 <= args.min_eps < args.max_eps < 0.5:
        raise CertificateInputError(f"--min-eps={args.min_eps}, --max-eps={args.max_eps}: need "
                                    "0 <= min-eps < max-eps < 1/2")
    check_output_path(args.out, option="--out")  # before the curves are computed

    from protocols.api import resolve_delta

    eps_values = np.linspace(args.min_eps, args.max_eps, args.points)
    devices = {"ideal": 0.0, "noisy": args.noise}
    runs: dict[str, dict[str, list[int | None]]] = {device: {} for device in devices}
    figure, axes = _new_axes()
    with _progress(len(devices) * len(RUNS_CHAINS) * eps_values.size, "plot runs") as bar:
        for device, noise in devices.items():
            for k, chain in enumerate(RUNS_CHAINS):
                values = []
                for eps in eps_values:
                    values.append(_required_runs(chain, args.bits, args.error, float(eps), noise))
                    bar.update()
                runs[device][chain] = values
                shown = [np.nan if n is None else n for n in values]
                axes.plot(eps_values, shown, "-" if device == "ideal" else "--", marker=".", color=f"C{k}",
                          label=f"{_CHAIN_LABEL[chain]}, {device}" + (f" ($\\xi$={noise:g})" if noise else ""))
    axes.set_yscale("log")
    found = [n for by_chain in runs.values() for values in by_chain.values() for n in values if n is not None]
    if found:  # room above the curves for the legend
        axes.set_ylim(top=max(found) * 10**3)
    axes.set_xlabel(r"SV parameter $\varepsilon$")
    axes.set_ylabel("smallest certifying runs n")
    axes.set_title(f"Protocol I: {args.bits} bits at d_comp p(ACC) <= 2^{math.log2(args.error):.4g}, "
                   "no-signaling adversary\n(no point: not certifiable with n <= the planner's limit)",
                   fontsize="medium")
    _save(figure, axes, args.out, legend_location="upper right")
    if args.json:
        print_json({
            "figure": "runs", "out": args.out, "output_bits": args.bits, "error": args.error,
            "adversary_model": "no-signaling", "eps": eps_values,
            "noise": devices,
            "delta": {device: [resolve_delta(None, float(eps), noise) for eps in eps_values]
                      for device, noise in devices.items()},
            "chains": {"paper": "paper 004 Theorem 20 chain (protocols.amplification.certificate), cyclic shift",
                       "improved": "docs/amplification_improved_certificate.md, cyclic-shift extractor",
                       "short-seed": "docs/amplification_improved_certificate.md, polynomial-hash extractor"},
            "required_runs": runs,
        })
    else:
        print(f"wrote {args.out}")
        for device in devices:
            for chain in RUNS_CHAINS:
                found = [(e, n) for e, n in zip(eps_values, runs[device][chain]) if n is not None]
                text = (f"largest certifiable eps drawn {found[-1][0]:.3g} (n = {found[-1][1]})"
                        if found else "nothing certifiable")
                print(f"{device:>5}, {chain:>10}: {text}")
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# plot tradeoff: paper 004 Fig. 6
# --------------------------------------------------------------------------------------------


def _register_tradeoff(figures: argparse._SubParsersAction) -> None:
    parser = _figure_parser(figures, "tradeoff", "paper 004 Fig. 6: largest delta against SV eps", 101,
                            "eps values evenly spaced on [0, 1/2)")
    parser.set_defaults(handler=_plot_tradeoff)


def _plot_tradeoff(args: argparse.Namespace) -> int:
    from protocols.amplification.certificate import lp_tradeoff_delta, paper_tradeoff_delta

    check_output_path(args.out, option="--out")  # before the curves are computed

    eps_values = np.linspace(0.0, 0.5, args.points, endpoint=False)
    paper = [paper_tradeoff_delta(float(e)) for e in eps_values]
    lp = []
    with _progress(eps_values.size, "plot tradeoff") as bar:
        for e in eps_values:
            lp.append(lp_tradeoff_delta(float(e)))
            bar.update()
    figure, axes = _new_axes()
    axes.plot(eps_values, paper, label=r"eq. (111), Lemma 11 bound $(1+2\delta)/3$")
    axes.plot(eps_values, lp, "--", label="eq. (111) with the run-time LP")
    axes.set_yscale("log")
    axes.set_xlabel(r"SV parameter $\varepsilon$")
    axes.set_ylabel(r"largest tolerated $\delta$")
    axes.set_title("DI randomness amplification trade-off (paper 004, Fig. 6)")
    _save(figure, axes, args.out)
    if args.json:
        print_json({"figure": "tradeoff", "out": args.out, "eps": eps_values,
                    "delta_paper": paper, "delta_lp": lp})
    else:
        print(f"wrote {args.out}")
        print(f"eps = 0: delta < {paper[0]:.6g} (paper), {lp[0]:.6g} (LP)")
    return EXIT_OK
