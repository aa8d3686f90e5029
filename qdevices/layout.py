"""Noise-aware choice of physical qubits for a device's circuits on an IBM backend.

The rule (documented here because the run report names it, ``layout_method``):

* From ``backend.target`` take each qubit's readout error ``r_p`` (the ``measure``
  instruction) and each coupled pair's two-qubit error ``e_pq`` (the smallest error of any
  two-qubit gate on that pair, either direction). Missing errors count as the backend's mean.
* A candidate is an assignment of the circuit's ``n`` virtual qubits (party ``i`` = virtual
  qubit ``i``) to ``n`` distinct physical qubits forming a connected subgraph of the coupling map.
  Its cost is ``sum_i r_{p_i} + sum_{(u, v)} c(p_u, p_v)`` over the pairs ``(u, v)`` of virtual
  qubits that share a two-qubit gate, where ``c(p, q) = e_pq`` when ``p`` and ``q`` are coupled
  and otherwise ``3 d(p, q)``, ``d`` being the shortest-path length with edge lengths ``e``
  (routing replaces each hop by a SWAP, three two-qubit gates).
* The cheapest candidate is the initial layout of a preset pass manager (optimisation level 1,
  fixed transpiler seed so the circuits are reproducible).

Every connected ``n``-subset is scored (all ``n!`` assignments, vectorised), so the choice is
exact for this cost; ``n <= MAX_EXHAUSTIVE_QUBITS`` keeps the enumeration small (the devices
here have 2 and 4 parties).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
from qiskit import QuantumCircuit

from .errors import DeviceInputError

#: Largest circuit whose layouts are enumerated exhaustively.
MAX_EXHAUSTIVE_QUBITS = 6
#: Seed of the (stochastic) routing pass, so the same backend gives the same circuits.
TRANSPILER_SEED = 20_240_601
LAYOUT_METHOD = "min sum of readout + two-qubit errors from backend.target (qdevices.layout)"


@dataclass(frozen=True)
class LayoutChoice:
    """The chosen physical qubit of each virtual qubit, with its cost (estimated error sum)."""

    physical_qubits: tuple[int, ...]
    cost: float


def interacting_pairs(circuits: list[QuantumCircuit]) -> set[tuple[int, int]]:
    """Pairs ``(u, v)``, ``u < v``, of qubits sharing a two-qubit gate in any of ``circuits``."""
    pairs = set()
    for circuit in circuits:
        for instruction in circuit.data:
            if len(instruction.qubits) == 2 and instruction.operation.name != "barrier":
                u, v = sorted(circuit.find_bit(q).index for q in instruction.qubits)
                pairs.add((u, v))
    return pairs


def error_tables(target: Any) -> tuple[np.ndarray, np.ndarray]:
    """Readout errors ``r[p]`` and two-qubit errors ``e[p, q]`` (``inf`` where not coupled).

    Unknown errors are replaced by the mean of the known ones (0 if none is known).
    """
    size = target.num_qubits
    readout = np.full(size, np.nan)
    if "measure" in target.operation_names:
        for qargs, properties in target["measure"].items():
            if qargs is not None and properties is not None and properties.error is not None:
                readout[qargs[0]] = properties.error
    coupled = np.zeros((size, size), dtype=bool)
    pair = np.full((size, size), np.nan)
    for name in target.operation_names:
        for qargs, properties in target[name].items():
            if qargs is None or len(qargs) != 2:
                continue
            error = properties.error if properties is not None and properties.error is not None else np.nan
            p, q = qargs
            coupled[p, q] = coupled[q, p] = True
            pair[p, q] = pair[q, p] = np.fmin(pair[p, q], error)
    np.fill_diagonal(coupled, False)
    readout[np.isnan(readout)] = np.nanmean(readout) if np.isfinite(readout).any() else 0.0
    known = pair[coupled & np.isfinite(pair)]
    pair[coupled & np.isnan(pair)] = known.mean() if known.size else 0.0
    pair[~coupled] = np.inf
    return readout, pair


def connected_subsets(adjacency: list[set[int]], size: int) -> np.ndarray:
    """All sets of ``size`` nodes inducing a connected subgraph, as sorted rows."""
    found = {frozenset([node]) for node in range(len(adjacency))}
    for _ in range(size - 1):
        found = {
            subset | {neighbour}
            for subset in found
            for node in subset
            for neighbour in adjacency[node]
            if neighbour not in subset
        }
    return np.array(sorted(sorted(s) for s in found), dtype=np.intp).reshape(-1, size)


def choose_layout(circuits: list[QuantumCircuit], target: Any) -> LayoutChoice:
    """The cheapest assignment of the circuits' qubits to physical qubits (module docstring)."""
    from scipy.sparse.csgraph import shortest_path

    n = circuits[0].num_qubits
    if n > MAX_EXHAUSTIVE_QUBITS:
        raise DeviceInputError(f"circuit qubits must be <= {MAX_EXHAUSTIVE_QUBITS} for the layout search, got {n}")
    if n > target.num_qubits:
        raise DeviceInputError(f"backend has {target.num_qubits} qubits, the device needs {n}")
    readout, pair = error_tables(target)
    coupled = np.isfinite(pair)
    adjacency = [set(np.flatnonzero(row).tolist()) for row in coupled]
    distance = shortest_path(np.where(coupled, np.maximum(pair, 1e-12), 0.0), method="D", directed=False)
    hop_cost = np.where(coupled, pair, 3.0 * distance)
    subsets = connected_subsets(adjacency, n)
    if subsets.size == 0:
        raise DeviceInputError(f"backend has no {n} connected qubits for a {n}-party device")
    permutations = np.array(list(itertools.permutations(range(n))), dtype=np.intp)
    candidates = subsets[:, permutations].reshape(-1, n)  # candidates[k, v] = physical qubit of v
    cost = readout[candidates].sum(axis=1)
    for u, v in sorted(interacting_pairs(circuits)):
        cost += hop_cost[candidates[:, u], candidates[:, v]]
    best = int(np.argmin(cost))
    return LayoutChoice(tuple(int(p) for p in candidates[best]), float(cost[best]))


def measured_qubits(circuit: QuantumCircuit) -> list[int]:
    """Physical qubit measured into each classical bit of a transpiled circuit (party order)."""
    qubits = [-1] * circuit.num_clbits
    for instruction in circuit.data:
        if instruction.operation.name == "measure":
            clbit = circuit.find_bit(instruction.clbits[0]).index
            qubits[clbit] = circuit.find_bit(instruction.qubits[0]).index
    return qubits


def active_qubits(circuits: list[QuantumCircuit]) -> list[int]:
    """Sorted physical qubits that any instruction other than a barrier touches, over ``circuits``.

    Aer's noise acts only through instructions, so errors attached to the other qubits of a
    wide backend never change these circuits' outcomes.
    """
    return sorted({circuit.find_bit(q).index for circuit in circuits for instruction in circuit.data
                   if instruction.operation.name != "barrier" for q in instruction.qubits})
