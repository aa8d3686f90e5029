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

Files are read in chunks of :data:`CHUNK_ROUNDS` rounds (:func:`iter_records`): ``.npz`` members
are decompressed as streams, ``.csv`` lines are parsed a chunk at a time, so memory does not
grow with the file. Errors name the file and the (1-based) row of the whole file.

Fingerprint (:class:`RecordsFingerprint`, :func:`records_sha256`): SHA-256 of ``settings`` as an
8-byte little-endian integer, then, round after round, the three values
``i + 2 j + 4 a + 8 b``, ``x``, ``y``, each one byte when ``M <= 255`` (else 4-byte
little-endian). Row-major, so a run or a file can be hashed chunk by chunk; the same rounds give
the same fingerprint whatever the file format or chunk size.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from protocols.errors import BellboxInputError

COLUMNS = ("i", "j", "x", "y", "a", "b")
#: Rounds per chunk when reading a records file.
CHUNK_ROUNDS = 2**20


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


def validate_columns(settings: int, columns: dict[str, np.ndarray], first_row: int = 0) -> None:
    """Check shapes and ranges; name the first offending row (1-based, counted from
    ``first_row`` rows before this chunk) and column."""
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
            raise RecordsError(f"row {first_row + row + 1}: column {name!r} must be in [0, {highs[name]}], got {values[row]}")
    key_x = np.flatnonzero((columns["alice_test"] == 0) & (columns["x"] != 0))
    if key_x.size:
        raise RecordsError(f"row {first_row + key_x[0] + 1}: a key round of Alice (i = 0) must have x = 0")
    key_y = np.flatnonzero((columns["bob_test"] == 0) & (columns["y"] != settings))
    if key_y.size:
        raise RecordsError(f"row {first_row + key_y[0] + 1}: a key round of Bob (j = 0) must have y = M = {settings}")


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
    """Read a whole ``.npz`` or ``.csv`` records file into memory (format in the module
    docstring; :func:`iter_records` reads it in chunks).

    Every problem (missing file, a directory, unreadable or corrupt file, missing arrays,
    ``settings`` not one integer, bad columns) raises :class:`RecordsError` naming the file.
    """
    settings, chunks = iter_records(path)
    parts = list(chunks)
    columns = {name: np.concatenate([part[name] for part in parts]) if parts else np.zeros(0, np.int64)
               for name in _FIELDS}
    return QKDRecords(settings, **columns)


def iter_records(path: str | Path, chunk_rounds: int = CHUNK_ROUNDS) -> tuple[int, Iterator[dict[str, np.ndarray]]]:
    """``(M, chunks)``: the settings of a records file and an iterator over its rounds in
    validated chunks of at most ``chunk_rounds`` rounds (dicts of the :class:`QKDRecords`
    field names). A problem anywhere in the file raises :class:`RecordsError` naming the file
    (and the row), at the latest when the chunk holding it is read."""
    path = Path(path)
    if not path.exists():
        raise RecordsError(f"records file {str(path)!r} does not exist")
    if not path.is_file():
        raise RecordsError(f"records file {str(path)!r} is not a regular file")
    if path.suffix == ".npz":
        settings, raw = _npz_chunks(path, chunk_rounds)
    elif path.suffix == ".csv":
        settings, raw = _csv_chunks(path, chunk_rounds)
    else:
        raise RecordsError(f"records file must end in .npz or .csv, got {path.name!r}")
    if not isinstance(settings, (int, np.integer)) or settings < 2:
        raise RecordsError(f"{path.name}: settings (M) must be an integer >= 2, got {settings!r}")

    def validated() -> Iterator[dict[str, np.ndarray]]:
        first_row = 0
        for columns in raw:
            try:
                validate_columns(settings, columns, first_row)
            except RecordsError as exc:
                raise RecordsError(f"{path.name}: {exc}") from None
            first_row += columns["x"].shape[0]
            yield columns

    return int(settings), validated()


def _npz_chunks(path: Path, chunk_rounds: int) -> tuple[int, Iterator[dict[str, np.ndarray]]]:
    """Settings and raw column chunks of a ``.npz`` file, each member read as a stream."""
    def broken(exc: BaseException) -> RecordsError:
        return RecordsError(f"{path.name}: cannot be read as .npz (empty, truncated or corrupt): {exc}")

    try:
        archive = zipfile.ZipFile(path)
        names = {name.removesuffix(".npy"): name for name in archive.namelist()}
        missing = [c for c in ("settings",) + COLUMNS if c not in names]
        if missing:
            raise RecordsError(f"{path.name}: missing arrays {missing}")
        with archive.open(names["settings"]) as member:
            settings = np.lib.format.read_array(member, allow_pickle=False)
        members = {c: archive.open(names[c]) for c in COLUMNS}
        headers = {c: _npy_header(members[c]) for c in COLUMNS}
    except RecordsError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise broken(exc) from None
    if settings.shape != () or not np.issubdtype(settings.dtype, np.integer):
        raise RecordsError(f"{path.name}: settings must be one integer M >= 2, got array "
                           f"{settings.tolist()!r} of dtype {settings.dtype}")
    for column, (shape, dtype) in headers.items():
        if len(shape) != 1 or shape != headers["x"][0]:
            raise RecordsError(f"{path.name}: column {column!r} must be one-dimensional with "
                               f"{headers['x'][0][:1]} rows, got shape {shape}")
        if not np.issubdtype(dtype, np.integer):
            raise RecordsError(f"{path.name}: column {column!r} must hold integers, got dtype {dtype}")

    def chunks() -> Iterator[dict[str, np.ndarray]]:
        left = headers["x"][0][0]
        try:
            while left:
                count = min(chunk_rounds, left)
                yield {field: _read_exactly(members[c], headers[c][1], count) for c, field in zip(COLUMNS, _FIELDS)}
                left -= count
            for member in members.values():
                if member.read(1):  # reaching the end checks the CRC
                    raise ValueError("data after the last row")
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
            raise broken(exc) from None
        finally:
            for member in members.values():
                member.close()
            archive.close()

    return int(settings), chunks()


def _npy_header(member) -> tuple[tuple[int, ...], np.dtype]:
    version = np.lib.format.read_magic(member)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(member)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(member)
    else:
        raise ValueError(f".npy format version {version} is not supported")
    if dtype.hasobject:
        raise ValueError("object arrays are not records")
    return shape, dtype


def _read_exactly(member, dtype: np.dtype, count: int) -> np.ndarray:
    data = member.read(count * dtype.itemsize)
    if len(data) != count * dtype.itemsize:
        raise EOFError(f"array ends after {len(data) // dtype.itemsize} of its rows")
    return np.frombuffer(data, dtype=dtype)


class RecordsFingerprint:
    """SHA-256 fingerprint of rounds fed chunk by chunk (byte layout in the module docstring).

    Each chunk's bytes are hashed in a background thread (``hashlib`` releases the GIL on large
    buffers) while the caller goes on; at most one chunk is pending, and the chunks enter the
    digest in order, so the fingerprint is that of the concatenated rounds.
    """

    def __init__(self, settings: int) -> None:
        self._dtype = np.dtype("u1") if settings <= 255 else np.dtype("<u4")
        self._digest = hashlib.sha256(int(settings).to_bytes(8, "little"))
        self._pending: threading.Thread | None = None

    def update(self, alice_test, bob_test, x, y, a, b) -> None:
        """Add the rounds of one chunk (columns in the :class:`QKDRecords` order)."""
        flags = np.asarray(alice_test, dtype=self._dtype) | (np.asarray(bob_test, dtype=self._dtype) << 1)
        flags |= np.asarray(a, dtype=self._dtype) << 2
        flags |= np.asarray(b, dtype=self._dtype) << 3
        data = np.stack([flags, np.asarray(x, dtype=self._dtype), np.asarray(y, dtype=self._dtype)], axis=1)
        self._wait()
        self._pending = threading.Thread(target=self._digest.update, args=(data,), daemon=True)
        self._pending.start()

    def hexdigest(self) -> str:
        self._wait()
        return self._digest.hexdigest()

    def _wait(self) -> None:
        if self._pending is not None:
            self._pending.join()
            self._pending = None


def records_sha256(records: QKDRecords) -> str:
    """SHA-256 (hex) fingerprint of the data of ``records``, independent of the file format
    (byte layout in the module docstring). Two parties (or a report and a file) holding the
    same rounds get the same fingerprint, whether the rounds came as .npz, .csv or a run."""
    fingerprint = RecordsFingerprint(records.settings)
    fingerprint.update(*(getattr(records, name) for name in _FIELDS))
    return fingerprint.hexdigest()


def _csv_chunks(path: Path, chunk_rounds: int) -> tuple[int, Iterator[dict[str, np.ndarray]]]:
    try:
        with path.open() as handle:
            first = handle.readline().strip()
            header = handle.readline().strip().lstrip("#").strip()
    except UnicodeDecodeError:
        raise RecordsError(f"{path.name}: not a text file") from None
    if not first.startswith("# settings="):
        raise RecordsError(f"{path.name}: line 1 must be '# settings=M', got {first!r}")
    try:
        settings = int(first.removeprefix("# settings="))
    except ValueError:
        raise RecordsError(f"{path.name}: line 1: settings must be an integer, got {first!r}") from None
    if header.split(",") != list(COLUMNS):
        raise RecordsError(f"{path.name}: line 2 must be the header {','.join(COLUMNS)}, got {header!r}")

    def chunks() -> Iterator[dict[str, np.ndarray]]:
        with path.open() as handle:
            numbered = enumerate(handle, start=1)
            for _ in itertools.islice(numbered, 2):
                pass
            try:
                while block := list(itertools.islice(numbered, chunk_rounds)):
                    table = _parse_csv_lines(path, block)
                    yield {field: table[:, k] for k, field in enumerate(_FIELDS)}
            except UnicodeDecodeError:
                raise RecordsError(f"{path.name}: not a text file") from None

    return settings, chunks()


def _parse_csv_lines(path: Path, block: list[tuple[int, str]]) -> np.ndarray:
    """The integer rows of ``(line number, text)`` pairs (blank lines skipped)."""
    rows = []
    for number, line in block:
        if not line.strip():
            continue
        fields = line.strip().split(",")
        if len(fields) != len(COLUMNS):
            raise RecordsError(f"{path.name}: line {number}: expected {len(COLUMNS)} values, got {len(fields)}")
        try:
            rows.append([int(v) for v in fields])
        except ValueError:
            raise RecordsError(f"{path.name}: line {number}: values must be integers, got {line.strip()!r}") from None
    return np.array(rows, dtype=np.int64).reshape(-1, len(COLUMNS))
