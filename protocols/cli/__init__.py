"""The ``bellbox`` command: a subcommand CLI.

Each subcommand lives in its own module ``protocols.cli.<name>`` exposing
``register(subparsers)``, which adds a parser whose ``handler(args) -> int`` runs the command.
Handlers import heavy dependencies lazily so that ``bellbox --help`` stays fast.

Exit status: 0 success, 2 bad input (one line on stderr), 3 protocol aborted / not certified.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from importlib.metadata import PackageNotFoundError, version

SUBCOMMANDS: tuple[str, ...] = ("devices", "qkd", "lp_bound", "rate", "plot", "extract", "amplify")

EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_NO_OUTPUT = 3


class OneLineArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def _version() -> str:
    try:
        return version("bellbox")
    except PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineArgumentParser(
        prog="bellbox", description="Device-independent quantum cryptography, end to end."
    )
    parser.add_argument("--version", action="version", version=f"bellbox {_version()}")
    subparsers = parser.add_subparsers(
        dest="command", required=True, parser_class=OneLineArgumentParser
    )
    for name in SUBCOMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``bellbox`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except ValueError as exc:
        print(f"bellbox {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        # the reader closed the pipe (e.g. ``bellbox ... | head``): stop quietly, as other tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
