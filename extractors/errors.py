"""Errors raised by the extractors package."""

from __future__ import annotations


class ExtractorInputError(ValueError):
    """Bad input to an extractor or calculator.

    The message names the parameter, the value received and the allowed range.
    """


class InsufficientEntropyError(ExtractorInputError):
    """The claimed min-entropies cannot support the requested output length or error.

    The message says what would: the largest output length the claims allow, or the
    min-entropy the request needs.
    """


def require_integer(name: str, value: object, low: int, high: int | None = None,
                    why: str = "") -> int:
    """Return ``value`` as an int if it is an integer in ``[low, high]``, else raise naming it."""
    integral = isinstance(value, int) and not isinstance(value, bool)
    if not integral and type(value).__module__ == "numpy":
        integral = getattr(value, "dtype", None) is not None and value.dtype.kind in "iu"
    if not integral or value < low or (high is not None and value > high):
        allowed = f">= {low}" if high is None else f"in [{low}, {high}]"
        reason = f" ({why})" if why else ""
        raise ExtractorInputError(f"{name} must be an integer {allowed}{reason}, got {value!r}")
    return int(value)
