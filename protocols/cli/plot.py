"""``bellbox plot``: figures of the papers, drawn with matplotlib (Agg backend).

Each figure is a sub-subcommand registered by its own ``_register_<name>`` function and
drawn by its own handler, so new figures are added next to the existing ones:

* ``bellbox plot rate [--out FILE.png]``: paper 000 Fig. 2, the gamma-optimised asymptotic
  key rate of eq. (21) (minimum over theta) against the noise xi in [0, 0.03] for
  M = 5, 7, 11, 15.
"""

from __future__ import annotations

import argparse

import numpy as np

from . import EXIT_OK
from .arguments import positive_int
from .output import print_json

FIGURE_2_SETTINGS = (5, 7, 11, 15)
FIGURE_2_MAX_NOISE = 0.03


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("plot", help="draw the papers' figures (matplotlib)")
    figures = parser.add_subparsers(dest="figure", required=True, parser_class=type(parser))
    _register_rate(figures)


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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from protocols.keyrate import asymptotic_rate, noise_threshold

    noises = np.linspace(0.0, FIGURE_2_MAX_NOISE, max(args.points, 2))
    curves: dict[int, list[float]] = {}
    thresholds: dict[int, float] = {}
    figure, axes = plt.subplots(figsize=(6.4, 4.2))
    for settings in args.settings:
        curves[settings] = [asymptotic_rate(settings=settings, noise=float(xi)).rate for xi in noises]
        thresholds[settings] = noise_threshold(settings=settings)
        axes.plot(noises, curves[settings], label=f"M={settings}")
    axes.set_xlim(0.0, FIGURE_2_MAX_NOISE)
    axes.set_ylim(bottom=0.0)
    axes.set_xlabel(r"noise $\xi$")
    axes.set_ylabel(r"key rate $N_s/N$ (bits per round)")
    axes.set_title(r"DI-QKD key rate, $\gamma$ optimised (paper 000, Fig. 2)")
    axes.legend()
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(args.out, dpi=120)
    plt.close(figure)
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
