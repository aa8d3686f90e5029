"""The ``bellbox`` command: a subcommand CLI.

Each subcommand lives in its own module ``protocols.cli.<name>`` exposing
``register(subparsers)``, which adds a parser whose ``handler(args) -> int`` runs the command.
Handlers import heavy dependencies lazily so that ``bellbox --help`` stays fast.

Exit status: 0 success; 2 bad input (any ``ValueError``, e.g.
:class:`protocols.errors.BellboxInputError`: one line on stderr); 3 no output (protocol aborted,
not certified, or stdout closed by its reader, e.g. ``bellbox ... | head``); 4 the run failed
(:class:`protocols.errors.RunFailedError`, jobs that kept failing: one line naming the
``--resume DIR`` command); 130 interrupted (Ctrl-C: one line, naming ``--resume DIR`` when a
checkpoint holds the finished jobs).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

SUBCOMMANDS: tuple[str, ...] = ("devices", "qkd", "lp_bound", "rate", "plot", "extract", "amplify")

EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_NO_OUTPUT = 3
EXIT_RUN_FAILED = 4
EXIT_INTERRUPTED = 130  # 128 + SIGINT, the shell convention


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


def _checkpoint_of(args: argparse.Namespace) -> Path | None:
    """The checkpoint directory of an interrupted run, if one was started."""
    for name in ("checkpoint_path", "resume", "checkpoint"):
        path = getattr(args, name, None)
        if path is not None and (Path(path) / "manifest.json").is_file():
            return Path(path)
    return None


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``bellbox`` console script; returns the exit status (module docstring).

    A ``KeyboardInterrupt`` becomes exit status 130 when ``argv`` is None (the console script);
    called from Python with an explicit ``argv`` it propagates, so a caller can tell an
    interrupted run from a finished one.
    """
    from protocols.errors import RunFailedError
    from qdevices.jobs import RunStoppedError

    args = build_parser().parse_args(argv)
    try:
        status = args.handler(args)
        sys.stdout.flush()  # a closed pipe shows here, not after main() returned success
        return status
    except ValueError as exc:
        print(f"bellbox {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (RunFailedError, RunStoppedError) as exc:
        print(f"bellbox {args.command}: run failed: {exc}", file=sys.stderr)
        return EXIT_RUN_FAILED
    except BrokenPipeError:
        # the reader closed the pipe (e.g. ``bellbox ... | head``): the output is incomplete
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_NO_OUTPUT
    except KeyboardInterrupt:
        if argv is not None:
            raise
        checkpoint = _checkpoint_of(args)
        hint = (f"; finished jobs are kept: continue with 'bellbox {args.command} --resume {checkpoint}'"
                if checkpoint is not None else "")
        print(f"bellbox {args.command}: interrupted{hint}", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
