"""Exact noisy outcome tables for fake IBM backends (``fake-exact:NAME``).

``fake:NAME`` samples shots through IBM Runtime's local mode on an Aer simulator that carries
the backend's noise model (:func:`qdevices.ibm.local_mode_simulator`). A memoryless device is fully described by its per-setting outcome
distribution ``P[s, code]``, so :class:`FakeExactExecution` computes that table once and the
rounds are then drawn by the numpy sampler of exact mode (:mod:`qdevices.sampling`):

1. the device's measured circuits are transpiled exactly as on the shot path
   (:class:`qdevices.ibm.NoiseAwarePassManager`: same noise-aware layout, optimisation
   level 1, fixed transpiler seed);
2. ``NoiseModel.from_backend(backend)`` is built once per execution object, on the qubits the
   circuits use (:class:`BackendNoise`); its gate errors
   (depolarising + thermal relaxation per gate) act on the quantum state, its readout errors
   are per-qubit assignment matrices ``A_q[true, recorded]`` (Aer's ``ReadoutError``) and it
   attaches no quantum error to ``measure`` itself;
3. each (setting, component) circuit, final measurements removed, is simulated by
   ``AerSimulator(method="density_matrix")`` with that noise model and ``save_probabilities``
   on the measured physical qubits (clbit ``k`` = party ``k + 1`` = bit ``k`` of Qiskit's
   little-endian register value, moved to the code of :mod:`qdevices.devices` at the end). The
   wide transpiled circuit is first moved onto its active qubits only, with the noise model
   restricted to the errors acting on those qubits (:meth:`BackendNoise.on_qubits`), so
   the density matrix has ``4**k`` entries for ``k`` active qubits;
4. readout: a final measurement with independent per-qubit assignment errors maps the true
   distribution ``p`` to ``(A_0 (x) ... )^T p``, i.e. ``P_rec[c'] = sum_c p[c] prod_i
   A_{q_i}[c_i, c'_i]``, applied here as one tensor contraction per party;
5. the components are mixed with their weights, as in :class:`~qdevices.execution.ExactExecution`.

Shot mode draws from the same model (noise model from the same backend, same circuits), so
both modes are samples of one distribution; ``tests/test_fake_exact.py`` checks that with a
chi-square test per setting. Neither is hardware: the report's mode is ``fake-exact``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .execution import EMULATION_STATEMENT, CircuitFamily, ExactExecution, outcome_table, setup_phase


class BackendNoise:
    """The noise model of a fake backend on the qubits a device uses, built once per qubit set.

    ``NoiseModel.from_backend`` on a whole backend costs 0.2 s on 7 qubits and 3-25 s on 127 or
    156 (it derives every gate's error channel), and IBM Runtime's local mode would rebuild it
    (and Aer re-serialise it) for every job. Here it is built once, and only for the qubits the
    transpiled circuits touch: ``NoiseModel.from_backend`` is given the backend's target with
    the instructions on other qubits removed (:func:`target_on_qubits`). Each error it adds is
    computed from one instruction's properties (error, duration) and the T1/T2 of that
    instruction's qubits, so the model on a sub-target holds exactly the errors of the whole
    model whose qubits lie in the set (``tests/test_fake_exact.py`` compares them). On circuits
    that touch only those qubits it is the same channel as the whole model: Aer applies a
    quantum error when an instruction acts on its qubits and a readout error when its qubit is
    measured, and nothing acts on the other qubits.

    The per-qubit errors are read from the model's ``_local_quantum_errors`` and
    ``_local_readout_errors`` tables (qiskit-aer has no public accessor for them), keyed by
    physical qubits; ``NoiseModel.from_backend`` adds no all-qubit or non-local errors.
    """

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self._models: dict[frozenset[int], Any] = {}

    def physical(self, qubits: list[int]) -> Any:
        """``NoiseModel.from_backend`` on ``qubits`` only, physical numbering (cached)."""
        from qiskit_aer.noise import NoiseModel

        key = frozenset(int(q) for q in qubits)
        if key not in self._models:
            with setup_phase(f"noise model of {self.backend.name} on qubits {sorted(key)}"):
                model = NoiseModel.from_backend(_TargetBackend(self.backend, key))
            if model._default_quantum_errors or model._default_readout_error is not None:
                raise ValueError("noise model: all-qubit errors cannot be restricted to qubits")
            self._models[key] = model
        return self._models[key]

    def readout_matrix(self, qubits: list[int], qubit: int) -> np.ndarray:
        """Assignment matrix ``A[true, recorded]`` of ``qubit`` in the model of ``qubits``
        (identity if it has no readout error)."""
        error = self.physical(qubits)._local_readout_errors.get((qubit,))
        return np.eye(2) if error is None else np.asarray(error.probabilities, dtype=np.float64)

    def on_qubits(self, qubits: list[int], *, renumber: bool, readout: bool) -> Any:
        """The model of ``qubits``: physical qubit ``qubits[k]`` becomes ``k`` when ``renumber``,
        else keeps its index; readout errors included when ``readout``."""
        from qiskit_aer.noise import NoiseModel

        physical = self.physical(qubits)
        index = {q: (k if renumber else q) for k, q in enumerate(qubits)}
        model = NoiseModel(basis_gates=list(self.backend.operation_names))
        for name, by_qubits in physical._local_quantum_errors.items():
            for error_qubits, error in by_qubits.items():
                model.add_quantum_error(error, name, [index[q] for q in error_qubits])
        if readout:
            for (qubit,), error in physical._local_readout_errors.items():
                model.add_readout_error(error, [index[qubit]])
        return model


def target_on_qubits(target: Any, qubits: frozenset[int]) -> Any:
    """A copy of ``target`` keeping only the instructions whose qubits all lie in ``qubits``
    (all qubits and their T1/T2 kept; global instructions such as control flow dropped)."""
    from qiskit.transpiler import Target

    small = Target(num_qubits=target.num_qubits, dt=target.dt, qubit_properties=target.qubit_properties)
    for name in target.operation_names:
        kept = {qargs: properties for qargs, properties in target[name].items()
                if qargs is not None and set(qargs) <= qubits}
        if kept:
            small.add_instruction(target.operation_from_name(name), kept, name=name)
    return small


class _TargetBackend:
    """What ``NoiseModel.from_backend`` reads from a ``BackendV2`` (``version``, ``target``,
    ``operation_names``, ``dt``), for ``backend`` restricted to ``qubits``."""

    version = 2

    def __init__(self, backend: Any, qubits: frozenset[int]) -> None:
        self.name = backend.name
        self.target = target_on_qubits(backend.target, qubits)
        self.operation_names = list(self.target.operation_names)
        self.dt = self.target.dt


class FakeExactExecution(ExactExecution):
    """Exact noisy distributions of a fake IBM backend's model (module docstring).

    A subclass of :class:`~qdevices.execution.ExactExecution` so devices treat it as exact mode
    (table once, numpy sampling); it builds its own per-circuit density-matrix simulators.

    Parameters
    ----------
    backend:
        A ``qiskit_ibm_runtime.fake_provider`` backend (any ``BackendV2`` with a ``target``
        carrying error rates works).
    """

    mode = "fake-exact"

    def __init__(self, backend: Any) -> None:
        from .ibm import NoiseAwarePassManager

        self.backend = backend
        self.noise = BackendNoise(backend)
        self.pass_manager = NoiseAwarePassManager(backend)
        self._transpiled: list[tuple[CircuitFamily, list]] = []

    @property
    def backend_name(self) -> str:
        return str(self.backend.name)

    def transpiled(self, family: CircuitFamily) -> list:
        """Each component's circuit transpiled as on the shot path (cached per family)."""
        for cached, circuits in self._transpiled:
            if cached is family:
                return circuits
        circuits = self.pass_manager.run([circuit for circuit, _ in family.measured_circuits()])
        self._transpiled.append((family, circuits))
        return circuits

    def describe(self, family: CircuitFamily) -> dict[str, Any]:
        """Provenance: backend, mode, measured physical qubits, calibration; never hardware."""
        from .ibm import calibration_timestamp
        from .layout import LAYOUT_METHOD, measured_qubits

        return {
            "backend": self.backend_name,
            "mode": self.mode,
            "execution": "fake-exact",
            "hardware": False,
            "emulation": f"{EMULATION_STATEMENT}: exact outcome table of the noise model of {self.backend_name}",
            "layout": measured_qubits(self.transpiled(family)[0]),
            "calibration": calibration_timestamp(self.backend),
            "layout_method": LAYOUT_METHOD,
            "simulator": "AerSimulator(method='density_matrix'), NoiseModel.from_backend, readout matrices",
        }

    def compact(self, circuit: Any) -> tuple[Any, Any, list[int], list[int]]:
        """``circuit`` on its active physical qubits only, with the noise model restricted to them.

        Returns the compact circuit (final measurements removed, ``save_probabilities`` on the
        measured qubits), the compact noise model (:meth:`BackendNoise.on_qubits`, renumbered,
        without readout: it is applied separately) and the measured physical qubits in party
        order, and the active physical qubits.
        """
        from qiskit import QuantumCircuit

        from .layout import active_qubits, measured_qubits

        qubits = measured_qubits(circuit)
        unmeasured = circuit.remove_final_measurements(inplace=False)
        active = sorted(set(active_qubits([unmeasured])) | set(qubits))
        index = {physical: k for k, physical in enumerate(active)}
        small = QuantumCircuit(len(active))
        for ins in unmeasured.data:
            if ins.operation.name == "barrier":
                continue
            small.append(ins.operation, [index[unmeasured.find_bit(q).index] for q in ins.qubits])
        small.save_probabilities([index[q] for q in qubits])
        return small, self.noise.on_qubits(active, renumber=True, readout=False), qubits, active

    def distribution(self, family: CircuitFamily) -> np.ndarray:
        """The noisy table ``P[setting, code]``, shape ``(S, 2**n)`` (module docstring, steps 3-5;
        computed over register values, then put in code order by
        :func:`~qdevices.execution.outcome_table`)."""
        names = [angles for _, angles in family.measured_circuits()]
        circuits = self.transpiled(family)
        with setup_phase(f"density-matrix table on {self.backend_name}"):
            table = self._mixture(family, circuits, names)
        return outcome_table(table, family.num_qubits)

    def _mixture(self, family: CircuitFamily, circuits: list, names: list) -> np.ndarray:
        """The components' recorded distributions mixed with their weights (steps 3-5)."""
        from qiskit_aer import AerSimulator

        per_component = []
        for circuit, angles in zip(circuits, names):
            small, model, qubits, active = self.compact(circuit)
            by_name = {parameter.name: parameter for parameter in small.parameters}
            experiments = [
                small.assign_parameters({by_name[a.name]: v for a, v in zip(angles, values) if a.name in by_name})
                for values in family.parameters
            ]
            simulator = AerSimulator(method="density_matrix", noise_model=model)
            result = simulator.run(experiments, shots=1).result()
            true = np.array([result.data(i)["probabilities"] for i in range(len(experiments))])
            per_component.append(self._apply_readout(true, qubits, active))
        return np.tensordot(family.weights, np.array(per_component), axes=1)

    def _apply_readout(self, true: np.ndarray, qubits: list[int], active: list[int]) -> np.ndarray:
        """Rows ``p[v]`` to ``P_rec[v'] = sum_v p[v] prod_i A_{q_i}[v_i, v'_i]`` (step 4), over
        register values ``v`` (bit ``i`` = clbit ``i`` = party ``i + 1``)."""
        n = len(qubits)
        # register bit i is party i + 1; as an n-axis tensor the axes run from bit n-1 down to bit 0
        recorded = true.reshape(-1, *([2] * n))
        for party, qubit in enumerate(qubits):
            axis = 1 + (n - 1 - party)
            recorded = np.moveaxis(np.tensordot(recorded, self.noise.readout_matrix(active, qubit), axes=([axis], [0])), -1, axis)
        return recorded.reshape(true.shape)
