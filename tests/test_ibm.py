"""The IBM backend layer, offline: fake backends in the runtime's local mode and test doubles.

Expected layouts are derived independently of :mod:`qdevices.layout`: by hand on a small
synthetic target, and for FakeSherbrooke by a plain loop over its coupled pairs (a two-qubit
device can only sit on a coupled pair; its cost is the two readout errors plus the pair's
two-qubit error). The calibration timestamp is read from the fake backend's own properties.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit.library import CXGate, Measure
from qiskit.transpiler import InstructionProperties, Target

from protocols.cli import main
from qdevices import ChainedBellDevice
from qdevices.ibm import IBMAccountError, ibm_backend, runtime_execution, runtime_sampler
from qdevices.layout import choose_layout

fake_provider = pytest.importorskip("qiskit_ibm_runtime.fake_provider")

LINE_READOUT = [0.5, 0.01, 0.02, 0.3, 0.01]
LINE_CX = {(0, 1): 0.1, (1, 2): 0.01, (2, 3): 0.01, (3, 4): 0.2}


def line_target() -> Target:
    """Five qubits in a line 0-1-2-3-4 with the errors above."""
    target = Target(num_qubits=5)
    target.add_instruction(CXGate(), {pair: InstructionProperties(error=e) for pair, e in LINE_CX.items()})
    target.add_instruction(Measure(), {(q,): InstructionProperties(error=r) for q, r in enumerate(LINE_READOUT)})
    return target


def test_layout_on_a_line_matches_the_hand_derivation() -> None:
    """Pair costs: {0,1} .61, {1,2} .04, {2,3} .33, {3,4} .51 -> {1,2}. Triangle (3 qubits, all
    pairs interacting): {1,2,3} costs .33 + .01 + .01 + 3 (.01 + .01) = .41, {0,1,2} .97,
    {2,3,4} 1.17 -> {1,2,3}."""
    pair = QuantumCircuit(2)
    pair.cx(0, 1)
    choice = choose_layout([pair], line_target())
    assert sorted(choice.physical_qubits) == [1, 2] and choice.cost == pytest.approx(0.04)
    triangle = QuantumCircuit(3)
    triangle.cz(0, 1)
    triangle.cz(1, 2)
    triangle.cz(0, 2)
    choice = choose_layout([triangle], line_target())
    assert sorted(choice.physical_qubits) == [1, 2, 3] and choice.cost == pytest.approx(0.41)


def best_sherbrooke_pair(backend) -> set[int]:
    target = backend.target
    readout = {q[0]: p.error for q, p in target["measure"].items()}
    best, cost = None, np.inf
    for (p, q), properties in target["ecr"].items():
        total = readout[p] + readout[q] + properties.error
        if total < cost:
            best, cost = {p, q}, total
    return best


def test_qkd_report_on_a_fake_backend_records_backend_layout_calibration(capsys) -> None:
    backend = fake_provider.FakeSherbrooke()
    argv = ["qkd", "--backend", "fake:sherbrooke", "--rounds", "1500", "--settings", "3", "--gamma", "0.5",
            "--seed", "3", "--json"]
    assert main(argv) in (0, 3)
    run = json.loads(capsys.readouterr().out)["device_run"]
    assert run["backend"] == backend.name
    assert set(run["layout"]) == best_sherbrooke_pair(backend) and len(run["layout"]) == 2
    assert run["calibration"] == backend.properties().last_update_date.isoformat()
    assert run["error_mitigation"].startswith("none") and run["hardware"] is False
    assert run["jobs"] == 1 and len(run["job_ids"]) == 1


def test_hardware_path_sends_one_job_with_equal_shots() -> None:
    """``simulated=False`` is the code path of ``ibm:NAME``: no simulator seed, every component in
    one job (the executor sampler rejects unequal shots, so this fails if they differ)."""
    execution = runtime_execution(fake_provider.FakePerth(), simulated=False)  # small: the job rebuilds its noise model
    assert execution.seed_sampler is None and execution.details["hardware"] is True
    device = ChainedBellDevice(2, 0.3, backend=execution, seed=4)  # 1 + 4 noise components
    inputs = np.stack([np.arange(400) % 2, np.arange(400) % 3], axis=1)
    outputs = device.measure(inputs)
    assert outputs.shape == (400, 2) and set(np.unique(outputs)) <= {0, 1}
    assert len(execution.job_ids) == 1


def test_provenance_of_fake_and_hardware_executions() -> None:
    """Each device states its backend, mode, layout, calibration and job ids; fake modes say
    they are an emulation, the hardware path does not."""
    backend = fake_provider.FakePerth()
    stamp = backend.properties().last_update_date.isoformat()
    shots = ChainedBellDevice(2, backend="fake:perth", seed=5)
    shots.measure(np.stack([np.arange(60) % 2, np.arange(60) % 3], axis=1))
    exact = ChainedBellDevice(2, backend="fake-exact:perth", seed=5)
    hardware = ChainedBellDevice(2, backend=runtime_execution(backend, simulated=False), seed=5)
    for device, execution in [(shots, "fake-shots"), (exact, "fake-exact"), (hardware, "ibm-hardware")]:
        provenance = device.provenance
        assert provenance["backend"] == backend.name and provenance["execution"] == execution
        assert provenance["calibration"] == stamp and len(provenance["layout"]) == 2
        assert provenance["hardware"] is (execution == "ibm-hardware")
        if execution == "ibm-hardware":
            assert provenance["emulation"] is None
        else:
            assert provenance["emulation"].startswith("emulation, not hardware")
    assert shots.provenance["job_ids"] == shots.execution.job_ids and len(shots.provenance["job_ids"]) == 1
    assert exact.provenance["job_ids"] == []
    json.dumps(shots.provenance)


def test_runtime_sampler_has_no_twirling_or_decoupling() -> None:
    from qiskit_ibm_runtime import Batch

    sampler = runtime_sampler(Batch(backend=fake_provider.FakeManilaV2()))
    assert type(sampler).__module__.startswith("qiskit_ibm_runtime.executor_sampler")
    assert sampler.options.twirling.enable_gates is False
    assert sampler.options.twirling.enable_measure is False
    assert sampler.options.dynamical_decoupling.enable is False


class ServiceDouble:
    """Stands in for ``QiskitRuntimeService``: knows one backend."""

    def __init__(self, backend) -> None:
        self.known = backend

    def backend(self, name: str):
        from qiskit.providers.exceptions import QiskitBackendNotFoundError

        if name != self.known.name:
            raise QiskitBackendNotFoundError(f"no backend {name}")
        return self.known


def test_ibm_backend_from_a_service() -> None:
    backend = fake_provider.FakeManilaV2()
    assert ibm_backend(backend.name, service=ServiceDouble(backend)) is backend
    with pytest.raises(IBMAccountError, match="ibm:nowhere is not available"):
        ibm_backend("nowhere", service=ServiceDouble(backend))


def test_cli_without_ibm_account_exits_2_with_one_line(tmp_path, monkeypatch, capsys) -> None:
    import qiskit_ibm_runtime.accounts.management as management

    monkeypatch.setattr(management, "_DEFAULT_ACCOUNT_CONFIG_JSON_FILE", str(tmp_path / "none.json"))
    for name in ("QISKIT_IBM_TOKEN", "QISKIT_IBM_URL", "QISKIT_IBM_INSTANCE", "QISKIT_IBM_CHANNEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["qkd", "--backend", "ibm:ibm_brisbane", "--rounds", "1000"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no IBM Quantum account is configured" in err
    assert not list(tmp_path.glob("bellbox-checkpoint-*"))  # nothing written before the device exists
