"""Running a device's circuits: exact-distribution mode and shot mode.

A quantum device is described by a :class:`CircuitFamily`: a short list of preparation circuits
(the components of the white-noise mixture, see :mod:`qdevices.circuits`) with their weights,
followed by a parametrised measurement, and a table of measurement angles, one row per
setting. Both modes produce outcome codes for each setting, party 1 the most significant bit
(the convention of :mod:`qdevices.devices`), translated from Qiskit's little-endian register
values by :func:`qdevices.circuits.register_value_codes`.

* :class:`ExactExecution` asks Aer once for each (setting, component) outcome distribution
  (statevector simulation with ``save_probabilities``), mixes the components with their
  weights, and returns the table ``P[setting, code]``. Rounds are then sampled with numpy
  (:mod:`qdevices.sampling`), so emulation is limited by numpy, not by Qiskit.
* :class:`ShotExecution` runs the transpiled circuits on any Qiskit ``SamplerV2``: Aer's, or
  IBM Runtime's executor sampler (fake backends in local mode, or hardware; :mod:`qdevices.ibm`). Each component is transpiled
  once and sent as one parametrised PUB sweeping all settings. The rounds of one setting are
  split among the components by a multinomial draw with the mixture's weights, and the
  outcomes of the components are shuffled together before they are scattered back into round
  order (a memoryless device's rounds are exchangeable, so this is the same distribution as
  preparing the mixture round by round).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np
from qiskit import QuantumCircuit

from .circuits import OUTCOME_REGISTER, NoiseComponent, measured_circuit, register_value_codes

#: What every emulated execution says about itself in reports.
EMULATION_STATEMENT = "emulation, not hardware"


@contextmanager
def setup_phase(description: str) -> Iterator[None]:
    """A tqdm bar (elapsed time) for a device set-up step that takes seconds, e.g. building a
    fake backend's noise model; shown on a terminal only (``disable=None``), removed when done."""
    from tqdm import tqdm

    with tqdm(total=1, desc=description, bar_format="{desc}: {elapsed}", disable=None, leave=False) as bar:
        yield
        bar.update(1)


@dataclass(frozen=True)
class CircuitFamily:
    """The circuits of a device: noise components and per-setting measurement angles.

    ``parameters[s]`` are the measurement angles of setting ``s`` in the order of
    :func:`qdevices.circuits.measured_circuit`.
    """

    components: tuple[NoiseComponent, ...]
    parameters: np.ndarray
    num_qubits: int

    @property
    def num_settings(self) -> int:
        return self.parameters.shape[0]

    @property
    def weights(self) -> np.ndarray:
        return np.array([c.weight for c in self.components])

    def measured_circuits(self) -> list[tuple[QuantumCircuit, Any]]:
        """One parametrised measured circuit per component, with its parameter vector."""
        return [measured_circuit(c.preparation) for c in self.components]


class ExactExecution:
    """Exact outcome distributions from Aer's statevector simulator (noise through the circuit mixture).

    The circuits are run as built, without the Qiskit transpiler: they use only gates that Aer
    executes natively (``h``, ``x``, ``cx``, ``cz``, ``rz``, ``ry``; :mod:`qdevices.circuits`).
    Calling ``transpile`` would build a preset pass manager, whose stage-plugin discovery
    (``stevedore`` entry points of ``qiskit.transpiler.*``) imports every installed plugin
    package, qiskit-ibm-runtime among them (about 0.8 s here), for circuits it would leave
    unchanged.
    """

    mode = "exact"

    def __init__(self) -> None:
        from qiskit_aer import AerSimulator

        self.simulator = AerSimulator(method="statevector")

    @property
    def backend_name(self) -> str:
        return "aer-exact"

    def describe(self, family: CircuitFamily) -> dict[str, Any]:
        """Provenance for reports (no physical qubits: nothing runs on hardware)."""
        return {"backend": self.backend_name, "mode": self.mode, "execution": "exact",
                "hardware": False, "emulation": f"{EMULATION_STATEMENT}: exact outcome table of the ideal circuits",
                "simulator": "AerSimulator(method='statevector'), exact probabilities"}

    def distribution(self, family: CircuitFamily) -> np.ndarray:
        """The table ``P[setting, code]`` of the weighted mixture, shape ``(S, 2**n)``.

        ``save_probabilities`` on all qubits gives each register value's probability (qubit ``k``
        is clbit ``k``); :func:`outcome_table` puts the columns in code order.
        """
        experiments = []
        for circuit, angles in family.measured_circuits():
            unmeasured = circuit.remove_final_measurements(inplace=False)
            unmeasured.save_probabilities()
            for values in family.parameters:
                experiments.append(unmeasured.assign_parameters(dict(zip(angles, values))))
        result = self.simulator.run(experiments, shots=1).result()
        per_experiment = np.array([result.data(i)["probabilities"] for i in range(len(experiments))])
        per_component = per_experiment.reshape(len(family.components), family.num_settings, -1)
        return outcome_table(np.tensordot(family.weights, per_component, axes=1), family.num_qubits)


def outcome_table(register_table: np.ndarray, num_qubits: int) -> np.ndarray:
    """Rows ``P[s, v]`` over Qiskit register values ``v`` to normalised rows ``P[s, code]``
    (columns moved by :func:`qdevices.circuits.register_value_codes`; round-off negatives clipped)."""
    table = np.empty_like(register_table)
    table[:, register_value_codes(num_qubits)] = register_table
    return np.clip(table, 0.0, None) / table.sum(axis=1, keepdims=True)


@dataclass
class ShotExecution:
    """Outcomes from shots on a Qiskit ``SamplerV2`` (Aer, fake IBM backend or IBM hardware).

    Outcomes are raw: no readout-error mitigation, twirling or other correction is applied. In
    DI mode the protocols must see what the device produced; mitigation would invert a
    calibrated *model* of the device's errors, and a device-independent claim assumes no model.

    Parameters
    ----------
    sampler:
        Any object with the ``SamplerV2`` interface: ``run(pubs).result()[i].data.<register>``.
    pass_manager:
        Transpiles the circuits for the target (``None``: circuits are sent as built).
    backend_name:
        Recorded in results.
    seed_sampler:
        Called with a fresh 62-bit seed, drawn from the device's generator, before each
        ``sampler.run`` (simulators only: the outcomes of one job then depend on that job's
        generator and not on how many jobs ran before). ``None`` for hardware.
    details:
        Static facts for reports (e.g. ``execution``, ``hardware``, ``emulation``, ``calibration``,
        ``layout_method``, ``sampler``).
    equal_shots:
        The sampler needs one shot count for all PUBs of a job (IBM Runtime's executor
        sampler): every component of a hardware job then runs the largest count (surplus
        dropped unseen; only a device with artificial white noise has several components).
    on_transpiled:
        Called with the transpiled components whenever a family's circuits are fixed (transpiled
        or installed), before any job runs; fake backends use it to restrict the simulator's
        noise model to the qubits the circuits use (:func:`qdevices.ibm.local_mode_simulator`).
    """

    sampler: Any
    pass_manager: Any = None
    backend_name: str = "sampler"
    seed_sampler: Callable[[int], None] | None = None
    details: dict[str, Any] = field(default_factory=dict)
    equal_shots: bool = False
    mode: str = "shots"
    on_transpiled: Callable[[list[QuantumCircuit]], None] | None = None
    job_ids: list[str] = field(default_factory=list, repr=False)
    _transpiled: list = field(default_factory=list, repr=False)

    def transpiled(self, family: CircuitFamily) -> list[QuantumCircuit]:
        """The transpiled circuit of each component (transpiled once per family, then cached)."""
        return [circuit for circuit, _ in self._circuits(family)]

    def install(self, family: CircuitFamily, circuits: list[QuantumCircuit]) -> None:
        """Use ``circuits`` (e.g. loaded from a checkpoint) as the transpiled components of ``family``."""
        if len(circuits) != len(family.components):
            raise ValueError(
                f"circuits: expected {len(family.components)} transpiled components, got {len(circuits)}"
            )
        self._transpiled[:] = [(f, prepared) for f, prepared in self._transpiled if f is not family]
        names = [angles for _, angles in family.measured_circuits()]
        self._transpiled.append((family, [(c, _parameter_order(c, a)) for c, a in zip(circuits, names)]))
        if self.on_transpiled is not None:
            self.on_transpiled(circuits)

    def _circuits(self, family: CircuitFamily) -> list[tuple[QuantumCircuit, np.ndarray]]:
        """Transpiled components with the column order of their parameters (cached per family)."""
        for cached_family, prepared in self._transpiled:
            if cached_family is family:
                return prepared
        measured = family.measured_circuits()
        if self.pass_manager is None:
            targets = [circuit for circuit, _ in measured]
        else:
            targets = self.pass_manager.run([circuit for circuit, _ in measured])
        prepared = [(target, _parameter_order(target, angles)) for target, (_, angles) in zip(targets, measured)]
        self._transpiled.append((family, prepared))
        if self.on_transpiled is not None:
            self.on_transpiled(list(targets))
        return prepared

    def describe(self, family: CircuitFamily) -> dict[str, Any]:
        """Provenance: backend, physical qubit measured for each party, and the static details."""
        from .layout import measured_qubits

        return {
            "backend": self.backend_name,
            "mode": self.mode,
            "layout": measured_qubits(self.transpiled(family)[0]),
            **self.details,
        }

    def sample(
        self,
        family: CircuitFamily,
        counts: np.ndarray,
        rng: np.random.Generator,
        progress: Callable[[int], None] | None = None,
    ) -> list[np.ndarray]:
        """Outcome codes for ``counts[s]`` rounds of each setting ``s``, in random order.

        One parametrised PUB per noise component sweeps all settings with one shot count (a
        sampler runs every parameter set of a PUB with the same shots): the largest number of
        rounds any setting needs from that component. Setting ``s`` keeps its first
        ``split[s, c]`` outcomes; the surplus shots are dropped unseen, which leaves a memoryless
        device's outcome distribution unchanged. Sampler job ids, when the sampler reports them,
        are appended to :attr:`job_ids`.
        """
        circuits = self._circuits(family)
        split = np.array([rng.multinomial(n, family.weights) for n in counts], dtype=np.int64)
        split = split.reshape(len(counts), len(circuits))
        needed = split.max(axis=0, initial=0)
        if self.equal_shots and self.seed_sampler is None:
            needed = np.where(needed > 0, needed.max(initial=0), 0)
        used = [component for component in range(len(circuits)) if needed[component]]
        pubs = [(circuits[c][0], family.parameters[:, circuits[c][1]], int(needed[c])) for c in used]
        codes: list[list[np.ndarray]] = [[] for _ in counts]
        for component, pub_result in zip(used, self._run(pubs, rng)):
            sweep = _codes_from_bitarray(getattr(pub_result.data, OUTCOME_REGISTER))
            for setting, count in enumerate(split[:, component]):
                codes[setting].append(sweep[setting, :count])
            if progress is not None:
                progress(int(split[:, component].sum()))
        return [rng.permutation(np.concatenate(parts)) for parts in codes]

    def _run(self, pubs: list[tuple], rng: np.random.Generator) -> list[Any]:
        """PUB results, recording sampler job ids.

        Hardware: one job with every PUB. Simulators (``seed_sampler`` set): one job per PUB,
        each seeded from ``rng``. Aer gives the PUBs of one run correlated random streams when
        its seed is fixed: the four-party shot-mode test of ``tests/test_devices.py`` then fails
        its chi-square at p ~ 1e-6 for most seeds, and passes with one seed per PUB.
        """
        batches = [[pub] for pub in pubs] if self.seed_sampler is not None else [pubs] if pubs else []
        results = []
        for batch in batches:
            if self.seed_sampler is not None:
                self.seed_sampler(int(rng.integers(2**62)))
            job = self.sampler.run(batch)
            if callable(getattr(job, "job_id", None)):
                self.job_ids.append(str(job.job_id()))
            results.extend(job.result())
        return results


def _parameter_order(circuit: QuantumCircuit, angles: Any) -> np.ndarray:
    """Column of ``angles`` feeding each of ``circuit.parameters`` (matched by name, so it also
    holds for circuits loaded from QPY, whose parameters are new objects)."""
    position = {parameter.name: i for i, parameter in enumerate(angles)}
    return np.array([position[p.name] for p in circuit.parameters], dtype=np.intp)


def _codes_from_bitarray(bits: Any) -> np.ndarray:
    """Outcome codes (party 1 most significant) from a Qiskit ``BitArray``.

    Its bytes are big-endian with bit ``k`` = clbit ``k``, i.e. they spell the little-endian
    register value, which :func:`qdevices.circuits.register_value_codes` maps to the code. The
    result has the BitArray's shape: ``(parameter sets, shots)`` for a sweep.
    """
    packed = np.asarray(bits.array, dtype=np.int64)
    weights = 256 ** np.arange(packed.shape[-1] - 1, -1, -1, dtype=np.int64)
    return register_value_codes(bits.num_bits)[packed @ weights]
