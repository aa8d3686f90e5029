"""Recorded four-party runs for Protocol I of paper 004 (Fig. 1), in a documented file format.

A lab that ran the four-party Bell test with its own eps-SV source records, per run ``i``, the
settings ``u_i = (u_i1, .., u_i4)`` the source chose and the outcomes ``x_i = (x_i1, .., x_i4)``
the four devices gave, and, once, the further SV bits ``t`` for the extractor (step 3, eq.
(118)). ``bellbox amplify --records FILE`` then runs steps 2-3 (test ``L_n <= delta``,
certificate, extraction) exactly as on a device run (:func:`protocols.amplification.
conclude_protocol1`).

Files
    ``.npz``: arrays ``u`` and ``x`` of shape ``(n, 4)`` (integers 0/1, column ``k`` is party
    ``k + 1``) and optionally ``t``, a 1-D array of SV bits (integers 0/1). No other arrays.

    ``.csv``: an optional first line ``# t=<bits>`` (the SV bits as characters 0/1), then the
    header ``u1,u2,u3,u4,x1,x2,x3,x4``, then one line per run of 8 values 0/1. Blank lines are
    skipped.

    Without ``t`` in the file, give the SV bits with ``--sv-file``. The extractor the certificate
    picks uses the first bits of ``t``: ``L = next_cyclic_length(4n)`` for the cyclic shift
    (:class:`extractors.models.CyclicShiftExtractor`), ``2b`` for the polynomial hash; a shorter
    ``t`` is rejected.

What the certificate assumes about the data (and nothing here can check): ``u_1..u_n`` followed
by ``t`` are consecutive bits of one source satisfying eq. (1) with the claimed ``eps`` (the
settings of run ``i`` are the source's bits ``4i-3 .. 4i``, most significant party first),
and the devices never saw ``t``. The claimed ``eps`` is the user's (``--sv-eps``).

Malformed files (missing or unknown arrays or columns, values other than 0/1, rows of the wrong
length, a truncated file) raise :class:`AmplificationRecordsError` (a
:class:`protocols.records.RecordsError`) naming the row and the problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from extractors.models import TwoSourceExtractorModel
from protocols.amplification.protocol1 import (DEFAULT_CERTIFICATE, AmplificationResult,
                                               Provenance, post_process_runs)
from protocols.records import RecordsError, read_npz

PARTIES = 4
CSV_HEADER = ("u1", "u2", "u3", "u4", "x1", "x2", "x3", "x4")
CSV_T_PREFIX = "# t="
NPZ_ARRAYS = ("u", "x", "t")


class AmplificationRecordsError(RecordsError):
    """A four-party records file or record is malformed; the message names the row and problem."""


@dataclass(frozen=True)
class AmplificationRecords:
    """The ``n`` runs of one Protocol I experiment: settings ``u``, outcomes ``x`` (both
    ``(n, 4)`` 0/1 ``uint8``) and the SV bits ``t`` for the extractor (``None`` if not recorded)."""

    settings: np.ndarray
    outputs: np.ndarray
    t: np.ndarray | None = None

    def __post_init__(self) -> None:
        validate_runs(self.settings, self.outputs, lambda row: f"row {row + 1}")
        if self.t is not None:
            validate_bits(self.t)

    @property
    def runs(self) -> int:
        return int(self.settings.shape[0])

    def save(self, path: str | Path) -> None:
        """Write ``.npz`` (compressed) or ``.csv``, chosen by the suffix (format above)."""
        path = Path(path)
        if path.suffix == ".npz":
            arrays = {"u": self.settings, "x": self.outputs}
            if self.t is not None:
                arrays["t"] = self.t
            np.savez_compressed(path, **arrays)
        elif path.suffix == ".csv":
            lines = [] if self.t is None else [CSV_T_PREFIX + "".join(map(str, self.t.tolist()))]
            lines.append(",".join(CSV_HEADER))
            table = np.concatenate([self.settings, self.outputs], axis=1)
            lines.extend(",".join(map(str, row)) for row in table.tolist())
            path.write_text("\n".join(lines) + "\n")
        else:
            raise AmplificationRecordsError(f"records file must end in .npz or .csv, got "
                                            f"{path.name!r}")


def _check_bit_array(name: str, values: np.ndarray, ndim: int) -> np.ndarray:
    values = np.asarray(values)
    if values.ndim != ndim or (ndim == 2 and values.shape[1] != PARTIES):
        expected = "(n, 4)" if ndim == 2 else "(L,)"
        raise AmplificationRecordsError(f"{name} must have shape {expected}, got {values.shape}")
    if not (np.issubdtype(values.dtype, np.integer) or values.dtype == np.bool_):
        raise AmplificationRecordsError(f"{name} must hold integers 0/1, got dtype {values.dtype}")
    return values


def validate_runs(settings: np.ndarray, outputs: np.ndarray,
                  row_name: Callable[[int], str]) -> None:
    """Check shapes and 0/1 values of ``u`` and ``x``; ``row_name(i)`` labels 0-based run ``i``
    in messages (a row of an array, or a line of a file)."""
    settings = _check_bit_array("u", settings, 2)
    outputs = _check_bit_array("x", outputs, 2)
    if settings.shape[0] == 0:
        raise AmplificationRecordsError("the records hold no runs (n must be >= 1)")
    if outputs.shape[0] != settings.shape[0]:
        raise AmplificationRecordsError(
            f"x has {outputs.shape[0]} rows and u has {settings.shape[0]}: every run needs both "
            "(truncated file?)")
    for name, values in (("u", settings), ("x", outputs)):
        rows, parties = np.nonzero((values != 0) & (values != 1))
        if rows.size:
            row, party = int(rows[0]), int(parties[0])
            raise AmplificationRecordsError(f"{row_name(row)}: {name}{party + 1} must be 0 or 1, "
                                            f"got {values[row, party]}")


def validate_bits(t: np.ndarray) -> None:
    """Check that ``t`` is a 1-D array of 0/1 integers; name the first bad position (1-based)."""
    t = _check_bit_array("t", t, 1)
    bad = np.flatnonzero((t != 0) & (t != 1))
    if bad.size:
        raise AmplificationRecordsError(f"t: bit {int(bad[0]) + 1} must be 0 or 1, got "
                                        f"{t[bad[0]]}")


def load_amplification_records(path: str | Path) -> AmplificationRecords:
    """Read a ``.npz`` or ``.csv`` four-party records file (format in the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise AmplificationRecordsError(f"records file {str(path)!r} does not exist")
    if path.suffix == ".npz":
        settings, outputs, t, row_name = _read_npz(path)
    elif path.suffix == ".csv":
        settings, outputs, t, row_name = _read_csv(path)
    else:
        raise AmplificationRecordsError(f"records file must end in .npz or .csv, got "
                                        f"{path.name!r}")
    validate_runs(settings, outputs, row_name)
    return AmplificationRecords(settings.astype(np.uint8), outputs.astype(np.uint8),
                                None if t is None else _as_bits(t))


def _as_bits(t: np.ndarray) -> np.ndarray:
    validate_bits(t)
    return np.asarray(t).astype(np.uint8)


def _read_npz(path: Path):
    arrays = read_npz(path, AmplificationRecordsError)
    unknown = sorted(set(arrays) - set(NPZ_ARRAYS))
    missing = [name for name in ("u", "x") if name not in arrays]
    if unknown or missing:
        problems = ([f"missing {missing}"] if missing else []) + \
            ([f"unknown {unknown}"] if unknown else [])
        raise AmplificationRecordsError(f"{path.name}: arrays must be u, x and optionally t; "
                                        + "; ".join(problems))
    return arrays["u"], arrays["x"], arrays.get("t"), lambda row: f"{path.name}: row {row + 1}"


def _read_csv(path: Path):
    try:
        lines = path.read_text().splitlines()
    except UnicodeDecodeError:
        raise AmplificationRecordsError(f"{path.name}: not a text file") from None
    t = None
    first = 0
    if lines and lines[0].startswith(CSV_T_PREFIX):
        text = lines[0][len(CSV_T_PREFIX):].strip()
        if not text or set(text) - {"0", "1"}:
            raise AmplificationRecordsError(f"{path.name}: line 1: t must be characters 0/1 "
                                            f"after {CSV_T_PREFIX!r}")
        t = np.frombuffer(text.encode(), dtype=np.uint8) - ord("0")
        first = 1
    header = lines[first].strip() if len(lines) > first else ""
    if header.split(",") != list(CSV_HEADER):
        raise AmplificationRecordsError(f"{path.name}: line {first + 1} must be the header "
                                        f"{','.join(CSV_HEADER)}, got {header!r}")
    line_numbers: list[int] = []
    rows: list[list[int]] = []
    for number, line in enumerate(lines[first + 1:], start=first + 2):
        if not line.strip():
            continue
        fields = line.split(",")
        if len(fields) != len(CSV_HEADER):
            raise AmplificationRecordsError(f"{path.name}: line {number}: expected "
                                            f"{len(CSV_HEADER)} values, got {len(fields)}")
        try:
            rows.append([int(field) for field in fields])
        except ValueError:
            raise AmplificationRecordsError(f"{path.name}: line {number}: values must be "
                                            f"integers 0/1, got {line.strip()!r}") from None
        line_numbers.append(number)
    table = np.array(rows, dtype=np.int64).reshape(-1, len(CSV_HEADER))
    return (table[:, :PARTIES], table[:, PARTIES:], t,
            lambda row: f"{path.name}: line {line_numbers[row]}")


def post_process_records(records: AmplificationRecords, eps: float, delta: float,
                         error: float, extractor: TwoSourceExtractorModel,
                         output_bits: int | None = None, t: np.ndarray | None = None,
                         label: str = "records", certificate: str = DEFAULT_CERTIFICATE
                         ) -> AmplificationResult:
    """Protocol I steps 2-3 on recorded runs, with the user's claimed SV parameter ``eps`` and
    the certificate chain ``certificate`` (:data:`protocols.amplification.protocol1.
    CERTIFICATE_CHAINS`; default improved, as ``bellbox amplify``).

    The SV bits ``t`` come from the records or from the ``t`` argument (e.g. an SV file), not
    both. The extractor the certificate covers uses the first ``t_length`` bits of ``t`` (``L =
    next_cyclic_length(4n)`` for the cyclic shift, ``2b`` for the polynomial hash); a shorter
    ``t``, or none, raises :class:`AmplificationRecordsError` when bits would be extracted
    (an aborted or uncertified run needs none), before any output exists.
    """
    if records.t is not None and t is not None:
        raise AmplificationRecordsError("t: the records file holds SV bits t and more were "
                                        "given (--sv-file); give them once")
    bits = records.t if records.t is not None else (None if t is None else _as_bits(t))

    def t_bits(count: int) -> np.ndarray:
        if bits is None:
            raise AmplificationRecordsError(
                f"t: the certificate covers output bits but there are no SV bits t: add {count}"
                " SV bits (array t, or '# t=' line) to the records file or give --sv-file")
        if bits.size < count:
            raise AmplificationRecordsError(
                f"t has {bits.size} bits, the extractor needs L = {count} for n = {records.runs}"
                " runs (x has 4n bits)")
        return bits[:count]

    provenance = Provenance(eps=eps, source=f"{label} (claimed eps={eps:g})", secure=True,
                            device={"records": label, "runs": records.runs})
    return post_process_runs(records.settings, records.outputs, delta, error, extractor, t_bits,
                             provenance, output_bits, certificate)
