"""Recorded DI-QKD rounds: what the devices produced, in a documented file format.

A record of ``N`` rounds holds, per round ``n``:

======  =================================================================  =============
column  meaning                                                            values
======  =================================================================  =============
``i``   Alice's test bit I_n (1 = test round, 0 = key round), step 1       0, 1
``j``   Bob's test bit J_n                                                 0, 1
``x``   Alice's setting X_n (0 when I_n = 0)                               0 .. M-1
``y``   Bob's setting Y_n (M when J_n = 0)                                 0 .. M
``a``   Alice's outcome A_n                                                0, 1
``b``   Bob's outcome B_n                                                  0, 1
======  =================================================================  =============

Files: ``.npz`` with one array per column and a scalar ``settings`` (M), or ``.csv`` with the
header ``i,j,x,y,a,b`` and a first comment line ``# settings=M``. The test bits are part of the
record because the protocol's sets N_e and N_r (eqs. (12), (14)) are defined by them, not by the
settings alone.
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from protocols.errors import BellboxInputError

COLUMNS = ("i", "j", "x", "y", "a", "b")


class RecordsError(BellboxInputError):
    """A record or a records file is malformed; the message names the row and the problem."""


@dataclass(frozen=True)
class QKDRecords:
    """The rounds of one DI-QKD run (paper 000 Sec. III A, step 1)."""

    settings: int
    alice_test: np.ndarray  # I
    bob_test: np.ndarray  # J
    x: np.ndarray
    y: np.ndarray
    a: np.ndarray
    b: np.ndarray

    def __post_init__(self) -> None:
        validate_columns(self.settings, {name: getattr(self, name) for name in _FIELDS})

    @property
    def rounds(self) -> int:
        return int(self.x.shape[0])

    def save(self, path: str | Path) -> None:
        """Write ``.npz`` or ``.csv`` (chosen by the suffix)."""
        path = Path(path)
        columns = {column: getattr(self, field) for column, field in zip(COLUMNS, _FIELDS)}
        if path.suffix == ".npz":
            np.savez_compressed(path, settings=self.settings, **columns)
        elif path.suffix == ".csv":
            table = np.stack([columns[c] for c in COLUMNS], axis=1)
            np.savetxt(path, table, fmt="%d", delimiter=",", header=f"settings={self.settings}\n" + ",".join(COLUMNS))
        else:
            raise RecordsError(f"records file must end in .npz or .csv, got {path.name!r}")


_FIELDS = ("alice_test", "bob_test", "x", "y", "a", "b")


def validate_columns(settings: int, columns: dict[str, np.ndarray]) -> None:
    """Check shapes and ranges; name the first offending row (1-based) and column."""
    if not isinstance(settings, (int, np.integer)) or settings < 2:
        raise RecordsError(f"settings (M) must be an integer >= 2, got {settings!r}")
    highs = {"alice_test": 1, "bob_test": 1, "x": settings - 1, "y": settings, "a": 1, "b": 1}
    lengths = {name: np.shape(values) for name, values in columns.items()}
    first = lengths["x"]
    for name, values in columns.items():
        if np.ndim(values) != 1 or lengths[name] != first:
            raise RecordsError(f"column {name!r} must be one-dimensional with {first} rows, got shape {lengths[name]}")
        if not np.issubdtype(np.asarray(values).dtype, np.integer):
            raise RecordsError(f"column {name!r} must hold integers, got dtype {np.asarray(values).dtype}")
        bad = np.flatnonzero((values < 0) | (values > highs[name]))
        if bad.size:
            row = int(bad[0])
            raise RecordsError(f"row {row + 1}: column {name!r} must be in [0, {highs[name]}], got {values[row]}")
    key_x = np.flatnonzero((columns["alice_test"] == 0) & (columns["x"] != 0))
    if key_x.size:
        raise RecordsError(f"row {key_x[0] + 1}: a key round of Alice (i = 0) must have x = 0")
    key_y = np.flatnonzero((columns["bob_test"] == 0) & (columns["y"] != settings))
    if key_y.size:
        raise RecordsError(f"row {key_y[0] + 1}: a key round of Bob (j = 0) must have y = M = {settings}")


def read_npz(path: Path, error: type[ValueError] | None = None) -> dict[str, np.ndarray]:
    """All arrays of the ``.npz`` file ``path`` (no pickles); an empty, truncated or corrupt
    file (bad zip, CRC error, short array) raises ``error`` naming the file."""
    error = error or RecordsError
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise error(f"{path.name}: cannot be read as .npz (empty, truncated or corrupt): {exc}") from None


def load_records(path: str | Path) -> QKDRecords:
    """Read a ``.npz`` or ``.csv`` records file (format in the module docstring).

    Every problem (missing file, a directory, unreadable or corrupt file, missing arrays,
    ``settings`` not one integer, bad columns) raises :class:`RecordsError` naming the file.
    """
    path = Path(path)
    if not path.exists():
        raise RecordsError(f"records file {str(path)!r} does not exist")
    if not path.is_file():
        raise RecordsError(f"records file {str(path)!r} is not a regular file")
    if path.suffix == ".npz":
        data = read_npz(path)
        missing = [c for c in ("settings",) + COLUMNS if c not in data]
        if missing:
            raise RecordsError(f"{path.name}: missing arrays {missing}")
        if data["settings"].shape != () or not np.issubdtype(data["settings"].dtype, np.integer):
            raise RecordsError(f"{path.name}: settings must be one integer M >= 2, got array "
                               f"{data['settings'].tolist()!r} of dtype {data['settings'].dtype}")
        columns = {field: data[c] for c, field in zip(COLUMNS, _FIELDS)}
        settings = int(data["settings"])
    elif path.suffix == ".csv":
        try:
            settings, columns = _read_csv(path)
        except UnicodeDecodeError:
            raise RecordsError(f"{path.name}: not a text file") from None
    else:
        raise RecordsError(f"records file must end in .npz or .csv, got {path.name!r}")
    try:
        return QKDRecords(settings, **columns)
    except RecordsError as exc:
        raise RecordsError(f"{path.name}: {exc}") from None


def records_sha256(records: QKDRecords) -> str:
    """SHA-256 (hex) fingerprint of the data of ``records``, independent of the file format.

    Hashed bytes: ``settings`` as 8-byte little-endian, then each column ``i, j, x, y, a, b``
    in that order as little-endian int64 values. Two parties (or a report and a file) holding
    the same rounds get the same fingerprint, whether the rounds came as .npz, .csv or a run.
    """
    digest = hashlib.sha256(int(records.settings).to_bytes(8, "little"))
    for name in _FIELDS:
        digest.update(np.ascontiguousarray(getattr(records, name), dtype="<i8").tobytes())
    return digest.hexdigest()


def _read_csv(path: Path) -> tuple[int, dict[str, np.ndarray]]:
    with path.open() as handle:
        first = handle.readline().strip()
        header = handle.readline().strip().lstrip("#").strip()
    if not first.startswith("# settings="):
        raise RecordsError(f"{path.name}: line 1 must be '# settings=M', got {first!r}")
    try:
        settings = int(first.removeprefix("# settings="))
    except ValueError:
        raise RecordsError(f"{path.name}: line 1: settings must be an integer, got {first!r}") from None
    if header.split(",") != list(COLUMNS):
        raise RecordsError(f"{path.name}: line 2 must be the header {','.join(COLUMNS)}, got {header!r}")
    rows = []
    with path.open() as handle:
        for number, line in enumerate(handle, start=1):
            if number <= 2 or not line.strip():
                continue
            fields = line.strip().split(",")
            if len(fields) != len(COLUMNS):
                raise RecordsError(f"{path.name}: line {number}: expected {len(COLUMNS)} values, got {len(fields)}")
            try:
                rows.append([int(v) for v in fields])
            except ValueError:
                raise RecordsError(f"{path.name}: line {number}: values must be integers, got {line.strip()!r}") from None
    table = np.array(rows, dtype=np.int64).reshape(-1, len(COLUMNS))
    return settings, {field: table[:, k] for k, field in enumerate(_FIELDS)}
