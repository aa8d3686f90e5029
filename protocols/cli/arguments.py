"""Argument types shared by the subcommands; a bad value becomes a one-line usage error (exit 2)."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """An integer >= 1 (accepts ``1e6``-style notation when it is a whole number)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if not value.is_integer() or value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return int(value)


def _real(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def non_negative(text: str) -> float:
    """A real number >= 0."""
    value = _real(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def unit_interval(text: str) -> float:
    """A real number in [0, 1]."""
    value = _real(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}")
    return value


def open_unit_interval(text: str) -> float:
    """A real number in (0, 1)."""
    value = _real(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}")
    return value


def add_backend_argument(parser: argparse.ArgumentParser) -> None:
    """``--backend exact|aer-shots|fake:NAME|ibm:NAME`` (validated when the device is built)."""
    parser.add_argument(
        "--backend",
        default="exact",
        metavar="NAME",
        help="exact (default: Aer distributions, numpy sampling), aer-shots, fake:NAME "
        "(offline noisy model of an IBM device, e.g. fake:sherbrooke) or ibm:NAME (IBM hardware; "
        "needs a saved account)",
    )
