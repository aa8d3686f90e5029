"""Qiskit circuits for the papers' states and measurements.

States
------
* The EPR pair |phi> = (|00> + |11>)/sqrt(2) (paper 000, Sec. III C).
* The four-party state |Psi> of paper 004, eq. (8),
  ``|Psi> = (|phi-> |phi~+> + |psi+> |psi~->) / sqrt(2)``. Expanding it, its amplitudes are
  ``(-1)**maj(q1, q2, q3) / (2 sqrt 2)`` on the eight strings with even parity
  ``q4 = q1 ^ q2 ^ q3``, followed by a Hadamard on party 4 (the tilde states are
  ``(I x H)|phi+>`` and ``(I x H)|psi->``). Since ``maj(a,b,c) = ab ^ bc ^ ac``, the circuit is
  H on parties 1-3, CZ on each pair of them, CX from each of them onto party 4, H on party 4:
  six two-qubit gates.

White noise
-----------
``rho = (1 - xi) |s><s| + xi I / 2**n`` (paper 000 eq. (22); the same noise model for the
four-party state) is prepared as a documented *mixture of circuits*, so that the ideal output of
what a backend receives is exactly ``rho`` and a real backend adds only its own noise:
with weight ``1 - xi`` the circuit preparing ``|s>``, and with weight ``xi / 2**n`` each circuit
preparing the computational basis state ``|k>`` (``I / 2**n`` is their uniform mixture).

Measurements
------------
Every party measures a qubit along a Bloch direction ``(theta, phi)``; outcome 0 is the
eigenvector ``cos(theta/2)|0> + e^{i phi} sin(theta/2)|1>``. The circuit applies
``RZ(-phi)`` then ``RY(-theta)`` (mapping that eigenvector to ``|0>``) and measures Z. The angles
are circuit parameters, so a backend transpiles one circuit per noise component and binds the
angles per setting.

* Chained Bell test (paper 000 eqs. (23)-(25)): Alice's ``x`` is the equatorial direction
  ``phi = pi x / M``; Bob's ``y < M`` is ``phi = -pi (y + 1/2) / M``; Bob's ``y = M`` is
  ``phi = 0`` (same as Alice's ``x = 0``). The sign of Bob's phase is the one of the paper's
  earlier version (its eq. (19), ``|0> +- e^{-i pi (y+1/2)/M}|1>``): for ``|phi>``,
  ``P(a != b) = sin^2((phi_A - phi_B)/2)``, which gives ``<W> = sin^2(pi/4M)`` (eq. (7)). With the
  sign printed in eq. (24), ``phi_A + phi_B`` would enter instead and eq. (7) would fail; the tests
  check the statistics, whatever the sign convention.
* Four-party test (paper 004 eqs. (9)-(10)): ``u_i = 0`` is X (``theta = pi/2, phi = 0``),
  ``u_i = 1`` is Z (``theta = 0``).

Classical bit ``k`` holds the outcome of party ``k + 1`` (qubit ``k``). Qiskit reads the register
little-endian, as the value ``sum_k 2**k x_{k+1}``: party 1 is its *least* significant bit, the
reverse of the outcome code of :mod:`qdevices.devices` (party 1 most significant), so every
register value is translated by :func:`register_value_codes` where it leaves Qiskit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.circuit import ParameterVector

OUTCOME_REGISTER = "outcome"


def epr_pair() -> QuantumCircuit:
    """Prepare |phi> = (|00> + |11>)/sqrt(2) on two qubits (Alice = qubit 0, Bob = qubit 1)."""
    circuit = QuantumCircuit(2, name="epr")
    circuit.h(0)
    circuit.cx(0, 1)
    return circuit


def four_party_psi() -> QuantumCircuit:
    """Prepare |Psi> of paper 004 eq. (8) on four qubits (party i = qubit i)."""
    circuit = QuantumCircuit(4, name="psi")
    circuit.h([0, 1, 2])
    circuit.cz(0, 1)
    circuit.cz(1, 2)
    circuit.cz(0, 2)
    for control in range(3):
        circuit.cx(control, 3)
    circuit.h(3)
    return circuit


def basis_state(index: int, num_qubits: int) -> QuantumCircuit:
    """Prepare the computational basis state |index> (qubit i holds bit i of ``index``)."""
    circuit = QuantumCircuit(num_qubits, name=f"basis{index}")
    for qubit in range(num_qubits):
        if (index >> qubit) & 1:
            circuit.x(qubit)
    return circuit


@dataclass(frozen=True)
class NoiseComponent:
    """One circuit of the white-noise mixture, with its weight."""

    weight: float
    preparation: QuantumCircuit


def white_noise_mixture(state: QuantumCircuit, noise: float) -> tuple[NoiseComponent, ...]:
    """Components whose weighted mixture is ``(1 - noise)|s><s| + noise I / 2**n``.

    Components of zero weight are left out.
    """
    n = state.num_qubits
    components = []
    if noise < 1.0:
        components.append(NoiseComponent(1.0 - noise, state))
    if noise > 0.0:
        components.extend(NoiseComponent(noise / 2**n, basis_state(k, n)) for k in range(2**n))
    return tuple(components)


def register_value_codes(num_qubits: int) -> np.ndarray:
    """``codes[v]``: the outcome code (:mod:`qdevices.devices`, party 1 most significant) of the
    register value ``v`` that Qiskit reports (bit ``k`` of ``v`` is clbit ``k``, party ``k + 1``).

    The map reverses the order of the ``num_qubits`` bits, so it is its own inverse.
    """
    values = np.arange(2**num_qubits, dtype=np.int64)
    bits = (values[:, None] >> np.arange(num_qubits)) & 1  # column k: clbit k, party k + 1
    return bits @ (1 << np.arange(num_qubits - 1, -1, -1, dtype=np.int64))


def measured_circuit(preparation: QuantumCircuit) -> tuple[QuantumCircuit, ParameterVector]:
    """Append a parametrised measurement of every qubit to ``preparation``.

    Returns the circuit and its parameters, ordered ``theta_0, phi_0, theta_1, phi_1, ...``
    (see :func:`measurement_parameters`).
    """
    n = preparation.num_qubits
    angles = ParameterVector("angle", 2 * n)
    qubits = QuantumRegister(n, "q")
    outcome = ClassicalRegister(n, OUTCOME_REGISTER)
    circuit = QuantumCircuit(qubits, outcome, name=preparation.name)
    circuit.compose(preparation, qubits, inplace=True)
    for qubit in range(n):
        theta, phi = angles[2 * qubit], angles[2 * qubit + 1]
        circuit.rz(-phi, qubit)
        circuit.ry(-theta, qubit)
    circuit.measure(qubits, outcome)
    return circuit, angles


def measurement_parameters(theta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Interleave per-party angles into the parameter order of :func:`measured_circuit`.

    ``theta`` and ``phi`` have shape ``(settings, parties)``; the result ``(settings, 2 parties)``.
    """
    theta, phi = np.asarray(theta, float), np.asarray(phi, float)
    values = np.empty(theta.shape[:-1] + (2 * theta.shape[-1],))
    values[..., 0::2] = theta
    values[..., 1::2] = phi
    return values


def chained_bell_angles(settings: int) -> tuple[np.ndarray, np.ndarray]:
    """Equatorial angles ``phi`` of Alice's M and Bob's M+1 observables (paper 000 eqs. (23)-(25)).

    Returns ``(alice, bob)`` with ``alice[x] = pi x / M``, ``bob[y] = -pi (y + 1/2) / M`` for
    ``y < M`` and ``bob[M] = 0``. All directions lie on the equator (``theta = pi/2``).
    """
    m = settings
    alice = np.pi * np.arange(m) / m
    bob = np.append(-np.pi * (np.arange(m) + 0.5) / m, 0.0)
    return alice, bob


def four_party_angles(bases: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bloch angles for settings ``u`` (0 = X, 1 = Z), shape ``(settings, 4)`` each (eqs. (9)-(10))."""
    bases = np.asarray(bases)
    theta = np.where(bases == 0, np.pi / 2, 0.0)
    return theta, np.zeros_like(theta)
