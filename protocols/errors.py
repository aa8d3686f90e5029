"""Error classes shared by the library and the CLI, and the exit status each maps to.

* :class:`BellboxInputError` (a ``ValueError``): bad input -- a parameter, option, path or file
  that cannot be used. The CLI prints one line and exits with status 2. Every ``ValueError``
  raised by the library is treated the same way, so existing error classes stay valid.
* :class:`RunFailedError` (a ``RuntimeError``): a run that was started could not finish (jobs
  kept failing, or the run was interrupted). Not bad input: the CLI exits with status 4 and the
  message names the ``--resume DIR`` command that continues the run, when a checkpoint exists.
"""

from __future__ import annotations


class BellboxInputError(ValueError):
    """Bad input; the message names the parameter (or file), the value and what is allowed."""


class RunFailedError(RuntimeError):
    """A started run could not finish; the message says how to resume it, if it can be."""
