"""``bellbox plot``: figures of the papers, drawn with matplotlib (Agg backend).

Each figure is a sub-subcommand registered by its own ``_register_<name>`` function and
drawn by its own handler, so new figures are added next to the existing ones:

* ``bellbox plot rate [--out FILE.png]``: paper 000 Fig. 2, the gamma-optimised asymptotic
  key rate of eq. (21) (minimum over theta) against the noise xi in [0, 0.03] for
  M = 5, 7, 11, 15.
* ``bellbox plot tradeoff [--out FILE.png]``: paper 004 Fig. 6, the largest tolerated delta
  for each SV eps (eq. (111)), with the paper's Lemma 11 bound and with the run-time LP.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from protocols.files import check_output_path

from . import EXIT_OK
from .arguments import positive_int
from .output import print_json

FIGURE_2_SETTINGS = (5, 7, 11, 15)
FIGURE_2_MAX_NOISE = 0.03


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("plot", help="draw the papers' figures (matplotlib)")
    figures = parser.add_subparsers(dest="figure", required=True, parser_class=type(parser))
    _register_rate(figures)
    _register_tradeoff(figures)


def _new_axes():
    """A fresh figure and axes on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(6.4, 4.2))


def _save(figure, axes, out: str) -> None:
    """Legend, grid, layout; write ``out`` atomically (format from its suffix, png without one)
    and release the figure."""
    import io

    import matplotlib.pyplot as plt

    from protocols.files import write_atomic

    axes.legend()
    axes.grid(alpha=0.3)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, dpi=120, format=Path(out).suffix[1:] or "png")
    plt.close(figure)
    write_atomic(out, buffer.getvalue())


def _settings_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers >= 2, got {text!r}") from None
    if not values or min(values) < 2:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers >= 2, got {text!r}")
    return values


def _register_rate(figures: argparse._SubParsersAction) -> None:
    parser = figures.add_parser("rate", help="paper 000 Fig. 2: key rate against noise")
    parser.add_argument("--out", default="rate.png", metavar="FILE.png", help="output image (default rate.png)")
    parser.add_argument("--settings", type=_settings_list, default=FIGURE_2_SETTINGS, metavar="M1,M2,...",
                        help="numbers of settings to draw (default 5,7,11,15 as in Fig. 2)")
    parser.add_argument("--points", type=positive_int, default=61, metavar="K",
                        help="noise values per curve, evenly spaced on [0, 0.03] (default 61)")
    parser.add_argument("--json", action="store_true", help="also print the curves as one JSON object")
    parser.set_defaults(handler=_plot_rate)


def _plot_rate(args: argparse.Namespace) -> int:
    from protocols.qkd.keyrate import asymptotic_rate, noise_threshold

    check_output_path(args.out, option="--out")  # before the curves are computed

    noises = np.linspace(0.0, FIGURE_2_MAX_NOISE, max(args.points, 2))
    curves: dict[int, list[float]] = {}
    thresholds: dict[int, float] = {}
    figure, axes = _new_axes()
    for settings in args.settings:
        curves[settings] = [asymptotic_rate(settings=settings, noise=float(xi)).rate for xi in noises]
        thresholds[settings] = noise_threshold(settings=settings)
        axes.plot(noises, curves[settings], label=f"M={settings}")
    axes.set_xlim(0.0, FIGURE_2_MAX_NOISE)
    axes.set_ylim(bottom=0.0)
    axes.set_xlabel(r"noise $\xi$")
    axes.set_ylabel(r"key rate $N_s/N$ (bits per round)")
    axes.set_title(r"DI-QKD key rate, $\gamma$ optimised (paper 000, Fig. 2)")
    _save(figure, axes, args.out)
    if args.json:
        print_json({
            "figure": "rate",
            "out": args.out,
            "noise": noises,
            "rates": {str(m): rates for m, rates in curves.items()},
            "noise_thresholds": {str(m): t for m, t in thresholds.items()},
        })
    else:
        print(f"wrote {args.out}")
        for settings in args.settings:
            print(f"M = {settings:2d}: rate {curves[settings][0]:.6f} at xi = 0, zero above xi = "
                  f"{thresholds[settings]:.5f}")
    return EXIT_OK


def _register_tradeoff(figures: argparse._SubParsersAction) -> None:
    parser = figures.add_parser("tradeoff", help="paper 004 Fig. 6: largest delta against SV eps")
    parser.add_argument("--out", default="tradeoff.png", metavar="FILE.png",
                        help="output image (default tradeoff.png)")
    parser.add_argument("--points", type=positive_int, default=101, metavar="K",
                        help="eps values evenly spaced on [0, 1/2) (default 101)")
    parser.add_argument("--json", action="store_true", help="also print the curves as one JSON object")
    parser.set_defaults(handler=_plot_tradeoff)


def _plot_tradeoff(args: argparse.Namespace) -> int:
    from protocols.amplification.certificate import lp_tradeoff_delta, paper_tradeoff_delta

    check_output_path(args.out, option="--out")  # before the curves are computed

    eps_values = np.linspace(0.0, 0.5, max(args.points, 2), endpoint=False)
    paper = [paper_tradeoff_delta(float(e)) for e in eps_values]
    lp = [lp_tradeoff_delta(float(e)) for e in eps_values]
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
