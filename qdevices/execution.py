"""Running a device's circuits: exact-distribution mode and shot mode.

A quantum device is described by a :class:`CircuitFamily`: a short list of preparation circuits
(the components of the white-noise mixture, see :mod:`qdevices.circuits`) with their weights,
followed by a parametrised measurement, and a table of measurement angles, one row per
setting. Both modes produce outcome codes (integer ``sum_i 2**i x_i``) for each setting.

* :class:`ExactExecution` asks Aer once for each (setting, component) outcome distribution
  (statevector simulation with ``save_probabilities``), mixes the components with their
  weights, and returns the table ``P[setting, code]``. Rounds are then sampled with numpy
  (:mod:`qdevices.sampling`), so emulation is limited by numpy, not by Qiskit.
* :class:`ShotExecution` runs the transpiled circuits on any Qiskit ``SamplerV2``: Aer's,
  ``AerSimulator.from_backend(Fake...)``'s, or IBM Runtime's. Each component is transpiled
  once and sent as one parametrised PUB sweeping all settings. The rounds of one setting are
  split among the components by a multinomial draw with the mixture's weights, and the
  outcomes of the components are shuffled together before they are scattered back into round
  order (a memoryless device's rounds are exchangeable, so this is the same distribution as
  preparing the mixture round by round).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from qiskit import QuantumCircuit

from .circuits import OUTCOME_REGISTER, NoiseComponent, measured_circuit


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
    """Exact outcome distributions from Aer (noise included through the circuit mixture).

    Parameters
    ----------
    simulator:
        An ``AerSimulator``; by default a statevector simulator. A density-matrix simulator
        with a noise model works too (the circuits are transpiled for it).
    """

    mode = "exact"

    def __init__(self, simulator: Any = None) -> None:
        from qiskit_aer import AerSimulator

        self.simulator = simulator if simulator is not None else AerSimulator(method="statevector")

    @property
    def backend_name(self) -> str:
        return "aer-exact"

    def distribution(self, family: CircuitFamily) -> np.ndarray:
        """The table ``P[setting, code]`` of the weighted mixture, shape ``(S, 2**n)``."""
        from qiskit import transpile

        experiments = []
        for circuit, angles in family.measured_circuits():
            unmeasured = circuit.remove_final_measurements(inplace=False)
            unmeasured.save_probabilities()
            for values in family.parameters:
                experiments.append(unmeasured.assign_parameters(dict(zip(angles, values))))
        experiments = transpile(experiments, self.simulator, optimization_level=0)
        result = self.simulator.run(experiments, shots=1).result()
        per_experiment = np.array([result.data(i)["probabilities"] for i in range(len(experiments))])
        per_component = per_experiment.reshape(len(family.components), family.num_settings, -1)
        table = np.tensordot(family.weights, per_component, axes=1)
        return np.clip(table, 0.0, None) / table.sum(axis=1, keepdims=True)


@dataclass
class ShotExecution:
    """Outcomes from shots on a Qiskit ``SamplerV2`` (Aer, fake IBM backend or IBM hardware).

    Parameters
    ----------
    sampler:
        Any object with the ``SamplerV2`` interface: ``run(pubs).result()[i].data.<register>``.
    pass_manager:
        Transpiles the circuits for the target (``None``: circuits are sent as built).
    backend_name:
        Recorded in results.
    """

    sampler: Any
    pass_manager: Any = None
    backend_name: str = "sampler"
    mode: str = "shots"
    _transpiled: list = field(default_factory=list, repr=False)

    def _circuits(self, family: CircuitFamily) -> list[tuple[QuantumCircuit, np.ndarray]]:
        """Transpiled components with the column order of their parameters (cached per family)."""
        for cached_family, prepared in self._transpiled:
            if cached_family is family:
                return prepared
        prepared = []
        for circuit, angles in family.measured_circuits():
            target = circuit if self.pass_manager is None else self.pass_manager.run(circuit)
            position = {parameter: i for i, parameter in enumerate(angles)}
            order = np.array([position[p] for p in target.parameters], dtype=np.intp)
            prepared.append((target, order))
        self._transpiled.append((family, prepared))
        return prepared

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
        device's outcome distribution unchanged.
        """
        circuits = self._circuits(family)
        split = np.array([rng.multinomial(n, family.weights) for n in counts], dtype=np.int64)
        split = split.reshape(len(counts), len(circuits))
        pubs, used = [], []
        for component, (circuit, order) in enumerate(circuits):
            shots = int(split[:, component].max(initial=0))
            if shots:
                pubs.append((circuit, family.parameters[:, order], shots))
                used.append(component)
        codes: list[list[np.ndarray]] = [[] for _ in counts]
        if pubs:
            for component, pub_result in zip(used, self.sampler.run(pubs).result()):
                sweep = _codes_from_bitarray(getattr(pub_result.data, OUTCOME_REGISTER))
                for setting, needed in enumerate(split[:, component]):
                    codes[setting].append(sweep[setting, :needed])
                if progress is not None:
                    progress(int(split[:, component].sum()))
        return [rng.permutation(np.concatenate(parts)) for parts in codes]


def _codes_from_bitarray(bits: Any) -> np.ndarray:
    """Integer outcome codes from a Qiskit ``BitArray`` (bytes are big-endian, bit i = clbit i).

    The result has the BitArray's shape: ``(parameter sets, shots)`` for a sweep.
    """
    packed = np.asarray(bits.array, dtype=np.int64)
    weights = 256 ** np.arange(packed.shape[-1] - 1, -1, -1, dtype=np.int64)
    return packed @ weights
