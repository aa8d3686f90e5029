"""Devices as vectorised black boxes: ``measure(inputs) -> outputs``.

``inputs`` has one row per round and one column per party (party ``i``'s setting, an integer
in ``{0, ..., setting_counts[i] - 1}``); ``outputs`` has the same shape, 0/1 ``uint8``. Nothing
downstream sees a circuit.

Integer codes: party 1 is the most significant digit
------------------------------------------------------
This is the one convention of the package for packing a round's per-party values into one
integer; every table ``P[setting index, outcome code]`` (deterministic boxes, exact Aer tables,
fake-backend tables) and every code drawn from one uses it:

* **setting index** ``s = sum_i u_i prod_{j > i} count_j`` (row-major, party 1 slowest):
  ``s = (M + 1) x + y`` for the chained test, ``s = 8 u_1 + 4 u_2 + 2 u_3 + u_4`` for four
  parties (:func:`setting_index_of`, :func:`setting_grid`);
* **outcome code** ``c = sum_i 2**(n - i) x_i`` for parties ``i = 1..n``, i.e. party 1 is the
  most significant bit: ``c = 2a + b`` for two parties, ``8 x_1 + 4 x_2 + 2 x_3 + x_4`` for four
  (:func:`outcome_codes`, :func:`outcome_bits`).

It is the order of :func:`protocols.bell.four_party.to_index`, of the SV bits (run ``i`` reads
``u_1 .. u_4`` in that order) and of the records' columns. Qiskit reports a register value
little-endian (clbit ``k`` is bit ``k``, and clbit ``k`` holds party ``k + 1``), so it is
bit-reversed into this code where it enters (:func:`qdevices.circuits.register_value_codes`).
A memoryless device regroups rounds by setting internally.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable, Sequence

import numpy as np

from .backends import make_execution
from .circuits import (
    chained_bell_angles,
    epr_pair,
    four_party_angles,
    four_party_psi,
    measurement_parameters,
    white_noise_mixture,
)
from .errors import DeviceInputError, require_in_range
from .execution import EMULATION_STATEMENT, CircuitFamily, ExactExecution
from .sampling import TableSampler, narrowest_unsigned

Progress = Callable[[int], None]


def setting_grid(setting_counts: Sequence[int]) -> np.ndarray:
    """All setting tuples in setting-index order (module docstring), shape ``(prod(counts), parties)``."""
    index = np.arange(int(np.prod(setting_counts)))
    return np.stack(np.unravel_index(index, tuple(setting_counts)), axis=1)


def setting_index_of(inputs: np.ndarray, setting_counts: Sequence[int]) -> np.ndarray:
    """Setting index of each row of valid ``inputs`` (module docstring), shape ``(N,)``, in the
    narrowest unsigned dtype holding ``prod(setting_counts) - 1`` (``uint8`` up to 256 settings).

    Horner's rule ``s = (...(u_1 c_2 + u_2) c_3 + ...) c_n + u_n`` in that dtype: every partial
    value is at most the final index, so nothing overflows.
    """
    inputs = np.asarray(inputs)
    index_type = narrowest_unsigned(int(np.prod(setting_counts)) - 1)
    index = inputs[:, 0].astype(index_type)
    for party in range(1, len(setting_counts)):
        index *= index_type(setting_counts[party])
        index += inputs[:, party].astype(index_type, copy=False)
    return index


def outcome_codes(bits: np.ndarray) -> np.ndarray:
    """Rows of 0/1 outcomes (column ``i`` is party ``i + 1``) to codes, party 1 most significant."""
    bits = np.asarray(bits, dtype=np.int64)
    return bits @ (1 << np.arange(bits.shape[-1] - 1, -1, -1, dtype=np.int64))


def outcome_bits(codes: np.ndarray, parties: int) -> np.ndarray:
    """Codes to a ``(N, parties)`` 0/1 ``uint8`` array, the inverse of :func:`outcome_codes`.

    Row ``c`` of a ``(2**parties, parties)`` table of the bits ``(c >> (parties - i)) & 1`` is
    gathered per round (the table is no larger than a device's outcome table).
    """
    return _bit_rows(parties).take(np.asarray(codes), axis=0)


@lru_cache(maxsize=None)
def _bit_rows(parties: int) -> np.ndarray:
    """Row ``c`` holds the bits of outcome code ``c``, party 1 first (module docstring)."""
    shifts = np.arange(parties - 1, -1, -1)
    return ((np.arange(2**parties)[:, None] >> shifts) & 1).astype(np.uint8)


class BlackBox:
    """Common input validation and encoding of a multi-party device.

    Subclasses implement :meth:`_sample_codes`.
    """

    #: Number of settings of each party.
    setting_counts: tuple[int, ...] = ()
    #: Whether the device signals by construction (never, for the devices here).
    name: str = "device"

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    @property
    def parties(self) -> int:
        return len(self.setting_counts)

    @property
    def num_settings(self) -> int:
        return int(np.prod(self.setting_counts))

    def setting_index(self, inputs: np.ndarray) -> np.ndarray:
        """Validate ``inputs`` (shape ``(N, parties)``) and combine each row into its setting index
        (party 1 most significant; module docstring)."""
        inputs = np.asarray(inputs)
        if inputs.ndim != 2 or inputs.shape[1] != self.parties:
            raise DeviceInputError(
                f"inputs must have shape (rounds, {self.parties}), got {inputs.shape}"
            )
        if inputs.size and not np.issubdtype(inputs.dtype, np.integer):
            raise DeviceInputError(f"inputs must be integers, got dtype {inputs.dtype}")
        unsigned = np.issubdtype(inputs.dtype, np.unsignedinteger)
        for party, count in enumerate(self.setting_counts):
            column = inputs[:, party]
            if column.size and (column.max() >= count or (not unsigned and column.min() < 0)):
                bad = column[(column < 0) | (column >= count)][0]
                raise DeviceInputError(
                    f"inputs[:, {party}] (party {party}'s setting) must be in [0, {count - 1}], got {bad}"
                )
        return setting_index_of(inputs, self.setting_counts)

    def encode(self, outputs: np.ndarray) -> np.ndarray:
        """A ``(N, parties)`` 0/1 array to outcome codes (party 1 most significant; module docstring)."""
        return outcome_codes(outputs)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Outcome codes to a ``(N, parties)`` 0/1 array (party 1 most significant; module docstring)."""
        return outcome_bits(codes, self.parties)

    def measure(self, inputs: np.ndarray, progress: Progress | None = None) -> np.ndarray:
        """Measure every round; ``progress(k)`` is called as ``k`` more rounds finish."""
        index = self.setting_index(inputs)
        return self.decode(self._sample_codes(index, progress))

    def _sample_codes(self, index: np.ndarray, progress: Progress | None) -> np.ndarray:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """Parameters for reports (the device's identity: a checkpoint resumes only on an equal one)."""
        return {"device": self.name, "setting_counts": list(self.setting_counts), "seed": self.seed}

    @property
    def provenance(self) -> dict[str, Any]:
        """Where the outcomes come from, for results: ``backend``, ``execution`` (``table``,
        ``exact``, ``aer-shots``, ``fake-exact``, ``fake-shots`` or ``ibm-hardware``),
        ``hardware``, ``emulation`` (the statement "emulation, not hardware: ..." or ``None`` on
        hardware), ``job_ids`` and, on IBM backends, ``layout`` (physical qubit of each party)
        and ``calibration`` (ISO date of the backend's calibration data)."""
        return {"backend": self.name, "execution": "table", "hardware": False,
                "emulation": f"{EMULATION_STATEMENT}: numpy sampling of a fixed outcome table", "job_ids": []}


class TabulatedBox(BlackBox):
    """A memoryless box given by its table ``P[setting index, outcome code]``."""

    def __init__(self, table: np.ndarray, seed: int | None = None) -> None:
        super().__init__(seed)
        self.sampler = TableSampler(table)
        if self.sampler.table.shape != (self.num_settings, 2**self.parties):
            raise DeviceInputError(
                f"table must have shape ({self.num_settings}, {2**self.parties}), "
                f"got {self.sampler.table.shape}"
            )

    @property
    def table(self) -> np.ndarray:
        return self.sampler.table

    def _sample_codes(self, index: np.ndarray, progress: Progress | None) -> np.ndarray:
        codes = self.sampler.sample(index, self.rng)
        if progress is not None:
            progress(index.shape[0])
        return codes


class QuantumDevice(BlackBox):
    """A device measuring a (noisy) quantum state, in exact or shot mode."""

    def __init__(self, family: CircuitFamily, backend: Any, seed: int | None) -> None:
        super().__init__(seed)
        self.family = family
        self.execution = make_execution(backend)
        self._sampler: TableSampler | None = None

    @property
    def backend_name(self) -> str:
        return self.execution.backend_name

    def outcome_table(self) -> np.ndarray:
        """Exact ``P[setting, code]`` from Aer (computed once, exact mode only)."""
        if not isinstance(self.execution, ExactExecution):
            raise DeviceInputError("outcome_table() needs backend='exact'")
        if self._sampler is None:
            self._sampler = TableSampler(self.execution.distribution(self.family))
        return self._sampler.table

    def _sample_codes(self, index: np.ndarray, progress: Progress | None) -> np.ndarray:
        if isinstance(self.execution, ExactExecution):
            self.outcome_table()
            codes = self._sampler.sample(index, self.rng)
            if progress is not None:
                progress(index.shape[0])
            return codes
        counts = np.bincount(index, minlength=self.num_settings)
        per_setting = self.execution.sample(self.family, counts, self.rng, progress)
        codes = np.empty(index.shape[0], dtype=np.int64)
        order = np.argsort(index, kind="stable")
        codes[order] = np.concatenate(per_setting)
        return codes

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), **self.execution.describe(self.family)}

    @property
    def provenance(self) -> dict[str, Any]:
        return {**self.execution.describe(self.family), "job_ids": list(getattr(self.execution, "job_ids", []))}


class ChainedBellDevice(QuantumDevice):
    """Two parties sharing ``rho = (1 - xi) Phi + xi I/4`` (paper 000 eq. (22)).

    Alice has ``M`` settings ``x`` and Bob ``M + 1`` settings ``y`` (eqs. (23)-(25)). Ideal
    statistics: ``<W> = (1 - xi) sin^2(pi/4M) + xi/2`` (eq. (26)) and error rate ``xi/2`` on the key
    pair ``(x, y) = (0, M)``.
    """

    name = "chained-quantum"

    def __init__(
        self, settings: int, noise: float = 0.0, backend: Any = "exact", seed: int | None = None
    ) -> None:
        if not isinstance(settings, (int, np.integer)) or settings < 2:
            raise DeviceInputError(f"settings (M) must be an integer >= 2, got {settings}")
        require_in_range("noise (xi)", noise, 0.0, 1.0)
        self.settings, self.noise = int(settings), float(noise)
        self.setting_counts = (self.settings, self.settings + 1)
        alice, bob = chained_bell_angles(self.settings)
        grid = setting_grid(self.setting_counts)
        phi = np.stack([alice[grid[:, 0]], bob[grid[:, 1]]], axis=1)
        family = CircuitFamily(
            components=white_noise_mixture(epr_pair(), self.noise),
            parameters=measurement_parameters(np.full_like(phi, np.pi / 2), phi),
            num_qubits=2,
        )
        super().__init__(family, backend, seed)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "settings": self.settings, "noise": self.noise}


class FourPartyDevice(QuantumDevice):
    """Four parties sharing ``(1 - xi)|Psi><Psi| + xi I/16``, |Psi> of paper 004 eq. (8).

    Settings ``u_i = 0`` measure X, ``u_i = 1`` measure Z (eqs. (9)-(10)). At ``xi = 0`` no round
    violates the inequality of eq. (5); white noise adds ``xi/2`` to each of its 8 terms.
    """

    name = "four-party-quantum"
    setting_counts = (2, 2, 2, 2)

    def __init__(self, noise: float = 0.0, backend: Any = "exact", seed: int | None = None) -> None:
        require_in_range("noise (xi)", noise, 0.0, 1.0)
        self.noise = float(noise)
        theta, phi = four_party_angles(setting_grid(self.setting_counts))
        family = CircuitFamily(
            components=white_noise_mixture(four_party_psi(), self.noise),
            parameters=measurement_parameters(theta, phi),
            num_qubits=4,
        )
        super().__init__(family, backend, seed)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "noise": self.noise}
