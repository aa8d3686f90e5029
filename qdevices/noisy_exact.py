"""Exact noisy outcome tables for fake IBM backends (``fake-exact:NAME``).

``fake:NAME`` samples shots through IBM Runtime's local mode, which rebuilds the backend's
noise model for every job. A memoryless device is fully described by its per-setting outcome
distribution ``P[s, code]``, so :class:`FakeExactExecution` computes that table once and the
rounds are then drawn by the numpy sampler of exact mode (:mod:`qdevices.sampling`):

1. the device's measured circuits are transpiled exactly as on the shot path
   (:class:`qdevices.ibm.NoiseAwarePassManager`: same noise-aware layout, optimisation
   level 1, fixed transpiler seed);
2. ``NoiseModel.from_backend(backend)`` is built once per execution object; its gate errors
   (depolarising + thermal relaxation per gate) act on the quantum state, its readout errors
   are per-qubit assignment matrices ``A_q[true, recorded]`` (Aer's ``ReadoutError``) and it
   attaches no quantum error to ``measure`` itself;
3. each (setting, component) circuit, final measurements removed, is simulated by
   ``AerSimulator(method="density_matrix")`` with that noise model and ``save_probabilities``
   on the measured physical qubits (clbit ``i`` = party ``i`` = bit ``i`` of the code). The
   wide transpiled circuit is first moved onto its active qubits only, with the noise model
   restricted to the errors acting on those qubits (:meth:`FakeExactExecution.compact`), so
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

from .execution import CircuitFamily, ExactExecution


class FakeExactExecution(ExactExecution):
    """Exact noisy distributions of a fake IBM backend's model (module docstring).

    A subclass of :class:`~qdevices.execution.ExactExecution` so devices treat it as exact mode
    (table once, numpy sampling); it builds its own per-circuit density-matrix simulators.

    Parameters
    ----------
    backend:
        A ``qiskit_ibm_runtime.fake_provider`` backend (any ``BackendV2`` with a ``target``
        carrying error rates works).

    The noise model's per-qubit errors are read from its ``_local_readout_errors`` and
    ``_local_quantum_errors`` tables (qiskit-aer has no public accessor for them); these are the
    errors ``NoiseModel.from_backend`` added, keyed by physical qubits.
    """

    mode = "fake-exact"

    def __init__(self, backend: Any) -> None:
        from qiskit_aer.noise import NoiseModel

        from .ibm import NoiseAwarePassManager

        self.backend = backend
        self.noise_model = NoiseModel.from_backend(backend)
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
        """Backend, mode, measured physical qubits; ``hardware`` is always ``False``."""
        from .ibm import calibration_timestamp
        from .layout import LAYOUT_METHOD, measured_qubits

        return {
            "backend": self.backend_name,
            "mode": self.mode,
            "layout": measured_qubits(self.transpiled(family)[0]),
            "calibration": calibration_timestamp(self.backend),
            "layout_method": LAYOUT_METHOD,
            "simulator": "AerSimulator(method='density_matrix'), NoiseModel.from_backend, readout matrices",
            "hardware": False,
        }

    def readout_matrix(self, qubit: int) -> np.ndarray:
        """Assignment matrix ``A[true, recorded]`` of physical ``qubit`` (identity if none)."""
        error = self.noise_model._local_readout_errors.get((qubit,))
        return np.eye(2) if error is None else np.asarray(error.probabilities, dtype=np.float64)

    def compact(self, circuit: Any) -> tuple[Any, Any, list[int]]:
        """``circuit`` on its active physical qubits only, with the noise model restricted to them.

        Returns the compact circuit (final measurements removed, ``save_probabilities`` on the
        measured qubits), the compact noise model (every quantum error of :attr:`noise_model`
        whose qubits are all active, renumbered; readout is applied separately) and the
        measured physical qubits in party order. Errors on idle qubits never touch the
        measured state, so the outcome distribution is unchanged.
        """
        from qiskit import QuantumCircuit
        from qiskit_aer.noise import NoiseModel

        from .layout import measured_qubits

        qubits = measured_qubits(circuit)
        unmeasured = circuit.remove_final_measurements(inplace=False)
        active = sorted({unmeasured.find_bit(q).index for ins in unmeasured.data for q in ins.qubits
                         if ins.operation.name != "barrier"} | set(qubits))
        index = {physical: k for k, physical in enumerate(active)}
        small = QuantumCircuit(len(active))
        for ins in unmeasured.data:
            if ins.operation.name == "barrier":
                continue
            small.append(ins.operation, [index[unmeasured.find_bit(q).index] for q in ins.qubits])
        small.save_probabilities([index[q] for q in qubits])
        model = NoiseModel(basis_gates=self.noise_model.basis_gates)
        for name, by_qubits in self.noise_model._local_quantum_errors.items():
            for error_qubits, error in by_qubits.items():
                if set(error_qubits) <= index.keys():
                    model.add_quantum_error(error, name, [index[q] for q in error_qubits])
        return small, model, qubits

    def distribution(self, family: CircuitFamily) -> np.ndarray:
        """The noisy table ``P[setting, code]``, shape ``(S, 2**n)`` (module docstring, steps 3-5)."""
        from qiskit_aer import AerSimulator

        names = [angles for _, angles in family.measured_circuits()]
        per_component = []
        for circuit, angles in zip(self.transpiled(family), names):
            small, model, qubits = self.compact(circuit)
            by_name = {parameter.name: parameter for parameter in small.parameters}
            experiments = [
                small.assign_parameters({by_name[a.name]: v for a, v in zip(angles, values) if a.name in by_name})
                for values in family.parameters
            ]
            simulator = AerSimulator(method="density_matrix", noise_model=model)
            result = simulator.run(experiments, shots=1).result()
            true = np.array([result.data(i)["probabilities"] for i in range(len(experiments))])
            per_component.append(self._apply_readout(true, qubits))
        table = np.tensordot(family.weights, np.array(per_component), axes=1)
        return np.clip(table, 0.0, None) / table.sum(axis=1, keepdims=True)

    def _apply_readout(self, true: np.ndarray, qubits: list[int]) -> np.ndarray:
        """Rows ``p[c]`` to ``P_rec[c'] = sum_c p[c] prod_i A_{q_i}[c_i, c'_i]`` (step 4)."""
        n = len(qubits)
        # code bit i is party i; as an n-axis tensor the axes run from bit n-1 down to bit 0
        recorded = true.reshape(-1, *([2] * n))
        for party, qubit in enumerate(qubits):
            axis = 1 + (n - 1 - party)
            recorded = np.moveaxis(np.tensordot(recorded, self.readout_matrix(qubit), axes=([axis], [0])), -1, axis)
        return recorded.reshape(true.shape)
