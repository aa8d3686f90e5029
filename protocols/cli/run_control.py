"""Options shared by the subcommands that run a device: job size, checkpoint, resume, retries.

``--checkpoint DIR`` keeps every finished job on disk; ``--resume DIR`` continues that run: the
options that define the run (rounds, settings, noise, backend, seed, ...) are taken from the
checkpoint, so ``bellbox qkd --resume DIR`` needs no other option (output options such as
``--report`` are read from the command line). A run on ``ibm:NAME`` always checkpoints: without
``--checkpoint`` it writes ``bellbox-checkpoint-<UTC time>`` in the working directory and says
so on stderr. When a job fails ``--max-attempts`` times the command stops with exit status 4
and a one-line message naming the ``bellbox <command> --resume DIR`` command.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from .arguments import non_negative, positive_int


def add_run_control_arguments(parser: argparse.ArgumentParser) -> None:
    """``--checkpoint``, ``--resume``, ``--job-rounds``, ``--max-attempts``, ``--retry-wait``."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--checkpoint", metavar="DIR", type=Path,
                       help="keep every finished job in the new directory DIR (resume with --resume DIR)")
    group.add_argument("--resume", metavar="DIR", type=Path,
                       help="continue the run checkpointed in DIR (its options come from DIR; finished jobs are not re-run)")
    parser.add_argument("--job-rounds", type=positive_int, default=None, dest="job_rounds", metavar="N",
                        help="rounds per job, i.e. at most N shots per circuit and job (default 10^5 in shot mode, "
                             "10^6 in exact mode)")
    parser.add_argument("--max-attempts", type=positive_int, default=4, dest="max_attempts", metavar="K",
                        help="attempts per job before the run stops (default 4)")
    parser.add_argument("--retry-wait", type=non_negative, default=30.0, dest="retry_wait", metavar="SECONDS",
                        help="wait after the first failed attempt, doubled after each further one (default 30)")


#: The stored report of a finished checkpointed run (the run's outcome; never its secret output).
REPORT_NAME = "report.json"


def finished_report(resume: Path | None, secret_option: str, secret_path: Any, secret: str,
                    processed: str) -> dict | None:
    """The stored report of the finished checkpointed run ``resume``, else None.

    Such a run is not post-processed again: its device data were extracted once, and a second
    output from them (with fresh hash seeds) would not be covered by the certificate. The
    ``secret`` itself (the key, the output bits) is not kept in the checkpoint, so asking for it
    again (``secret_option`` given, i.e. ``secret_path`` not None) is bad input. ``processed``
    names the post-processing in the message (``"distilled"``, ``"extracted"``).
    """
    if resume is None or not (Path(resume) / REPORT_NAME).is_file():
        return None
    from protocols.errors import BellboxInputError
    from qdevices.jobs import CheckpointError

    file = Path(resume) / REPORT_NAME
    if secret_path is not None:
        raise BellboxInputError(f"{secret_option}: run already {processed}, report at {file}; the {secret} is not "
                                f"kept in the checkpoint and the device data are {processed} only once (a "
                                "second output from them is not covered by the certificate)")
    try:
        return json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {str(resume)!r}: {REPORT_NAME} cannot be read: {exc}") from None


def restore_run_arguments(args: argparse.Namespace) -> None:
    """With ``--resume``, replace the run-defining options by those stored in the checkpoint."""
    if args.resume is None:
        return
    from qdevices.jobs import Checkpoint, CheckpointError

    command = Checkpoint.open(args.resume).manifest.get("metadata", {}).get("command")
    if command is None or command.get("subcommand") != args.command:
        raise CheckpointError(f"resume: {str(args.resume)!r} is not a checkpoint of 'bellbox {args.command}'")
    for name, value in command["options"].items():
        setattr(args, name, value)


def run_control(
    args: argparse.Namespace, run_options: Sequence[str], on_finish: Callable[[Any], None] | None = None
) -> Any:
    """The :class:`qdevices.jobs.RunControl` of the command; stores ``run_options`` for resuming.

    ``on_finish`` receives the :class:`qdevices.jobs.DeviceRun` (for the report).
    """
    from qdevices.jobs import JobPolicy, RunControl

    policy = JobPolicy(job_rounds=args.job_rounds, max_attempts=args.max_attempts, first_backoff=args.retry_wait)
    if args.resume is not None:
        return RunControl(policy=policy, resume=args.resume, on_finish=on_finish)
    checkpoint = args.checkpoint
    if checkpoint is None and str(args.backend).startswith("ibm:"):
        checkpoint = Path(time.strftime("bellbox-checkpoint-%Y%m%d-%H%M%S", time.gmtime()))
        print(f"bellbox {args.command}: checkpointing every job to {checkpoint}", file=sys.stderr)
    args.checkpoint_path = checkpoint  # for the resume hint after an interrupt (protocols.cli.main)
    command = {"subcommand": args.command, "options": {name: getattr(args, name) for name in run_options}}
    return RunControl(policy=policy, checkpoint=checkpoint, metadata={"command": command}, on_finish=on_finish)
