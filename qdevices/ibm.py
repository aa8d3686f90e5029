"""IBM backends: real hardware and its offline models, through the same code.

``ibm:NAME`` and ``fake:NAME`` both become a :class:`~qdevices.execution.ShotExecution` built
by :func:`runtime_execution`:

* the sampler is qiskit-ibm-runtime's current one, ``qiskit_ibm_runtime.executor_sampler.Sampler``
  (its older ``SamplerV2`` is deprecated in 0.51), opened in a ``Batch`` on the backend. For a
  fake backend the runtime runs the batch in *local mode* on Aer with the backend's noise
  model, so the offline tests exercise the hardware code path;
* circuits are transpiled by :class:`NoiseAwarePassManager`: the physical qubits minimise
  readout + two-qubit error from ``backend.target`` (:mod:`qdevices.layout`), then a preset
  pass manager at optimisation level 1 routes and translates with that initial layout;
* the report records the backend name, the measured physical qubit of each party and the
  calibration timestamp (``backend.properties().last_update_date``).

Outcomes are raw. Twirling, dynamical decoupling and every form of readout-error mitigation
are off: in DI mode the protocols must see what the device produced, and mitigation corrects
the outcomes with a calibrated *model* of the device, which a device-independent security
claim must not assume (a model-based correction could even manufacture a Bell violation).

Credentials come from the user's saved account or from the ``QISKIT_IBM_TOKEN`` (and
``QISKIT_IBM_CHANNEL``, ``QISKIT_IBM_INSTANCE``) environment variables, read by
``QiskitRuntimeService()`` itself; this module never reads, prints or stores a token.
"""

from __future__ import annotations

from typing import Any, Callable

from qiskit import QuantumCircuit

from .errors import DeviceInputError
from .execution import EMULATION_STATEMENT, ShotExecution, setup_phase
from .layout import LAYOUT_METHOD, TRANSPILER_SEED, LayoutChoice, choose_layout


class IBMAccountError(DeviceInputError):
    """No IBM Quantum account is configured (or the backend is not available to it)."""


ACCOUNT_HELP = (
    "save an IBM Quantum account once with QiskitRuntimeService.save_account(token=..., set_as_default=True) "
    "or set QISKIT_IBM_TOKEN (and QISKIT_IBM_INSTANCE)"
)


def ibm_backend(name: str, service: Any = None) -> Any:
    """The IBM backend ``name`` from ``service`` (default: ``QiskitRuntimeService()``)."""
    from qiskit.providers.exceptions import QiskitBackendNotFoundError

    try:
        from qiskit_ibm_runtime import QiskitRuntimeService
        from qiskit_ibm_runtime.accounts import AccountNotFoundError
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise DeviceInputError("backend ibm:NAME needs qiskit-ibm-runtime: pip install 'bellbox[ibm]'") from exc
    if service is None:
        try:
            service = QiskitRuntimeService()
        except AccountNotFoundError:
            raise IBMAccountError(f"backend ibm:{name}: no IBM Quantum account is configured; {ACCOUNT_HELP}") from None
        except Exception as exc:  # network or credential failure; the message may quote account data
            raise IBMAccountError(
                f"backend ibm:{name}: IBM Quantum could not be reached with the configured account "
                f"({type(exc).__name__}); check the network and the saved account"
            ) from None
    try:
        return service.backend(name)
    except QiskitBackendNotFoundError:
        raise IBMAccountError(f"backend ibm:{name} is not available to this IBM Quantum account") from None


class NoiseAwarePassManager:
    """Transpile a device's circuits onto the best physical qubits of ``backend``.

    The layout is chosen once, from all the circuits passed to the first :meth:`run` (the noise
    components of one device share their qubits), by :func:`qdevices.layout.choose_layout`.
    """

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.choice: LayoutChoice | None = None

    def run(self, circuits: list[QuantumCircuit]) -> list[QuantumCircuit]:
        from qiskit.transpiler import generate_preset_pass_manager

        with setup_phase(f"layout and transpilation for {self.backend.name}"):
            if self.choice is None:
                self.choice = choose_layout(circuits, self.backend.target)
            manager = generate_preset_pass_manager(
                optimization_level=1,
                backend=self.backend,
                initial_layout=list(self.choice.physical_qubits),
                seed_transpiler=TRANSPILER_SEED,
            )
            return manager.run(circuits)


def calibration_timestamp(backend: Any) -> str | None:
    """ISO time of the backend's last calibration (``properties().last_update_date``), if known."""
    properties = backend.properties() if callable(getattr(backend, "properties", None)) else None
    stamp = getattr(properties, "last_update_date", None)
    return stamp.isoformat() if stamp is not None else None


def runtime_sampler(mode: Any) -> Any:
    """The runtime's executor ``Sampler`` on ``mode`` (a ``Batch``/``Session``), outcomes raw.

    Twirling (gates and measurements) and dynamical decoupling are switched off explicitly, so a
    change of the library's defaults cannot alter the outcomes silently.
    """
    from qiskit_ibm_runtime.executor_sampler import Sampler

    sampler = Sampler(mode=mode)
    sampler.options.twirling.enable_gates = False
    sampler.options.twirling.enable_measure = False
    sampler.options.dynamical_decoupling.enable = False
    return sampler


def local_mode_simulator(backend: Any) -> tuple[Any, Callable[[list[QuantumCircuit]], None]]:
    """An ``AerSimulator`` standing for fake ``backend`` in IBM Runtime's local mode, and the
    hook that fixes its noise model once the circuits are known.

    Opened on the fake backend itself, local mode calls ``AerSimulator.from_backend`` in every
    job, which rebuilds ``NoiseModel.from_backend`` (about 0.5 s per job on fake:perth, several
    seconds on 127-qubit backends); on an ``AerSimulator`` it only copies it. The simulator
    here has the backend's target and no ``BackendProperties`` (``from_backend`` converts the
    target into them for building a noise model; copying them costs 0.3 s per job on
    fake:sherbrooke). Its noise model is the backend's, built once
    (:class:`qdevices.noisy_exact.BackendNoise`) and restricted to the physical qubits the
    transpiled circuits touch (the same channel on those circuits), so each job copies and
    serialises a few qubits' errors instead of the whole device's.
    """
    from qiskit_aer import AerSimulator

    from .layout import active_qubits
    from .noisy_exact import BackendNoise

    from qiskit_aer.noise import NoiseModel

    noise = BackendNoise(backend)
    simulator = AerSimulator(target=backend.target, noise_model=NoiseModel())
    used: set[int] = set()

    def restrict_noise(circuits: list[QuantumCircuit]) -> None:
        used.update(active_qubits(circuits))
        simulator.set_options(noise_model=noise.on_qubits(sorted(used), renumber=False, readout=True))

    return simulator, restrict_noise


def runtime_execution(backend: Any, *, simulated: bool) -> ShotExecution:
    """Shot execution on ``backend`` through the runtime's executor sampler inside a ``Batch``.

    ``simulated`` (fake backends, local mode): the batch runs on :func:`local_mode_simulator`
    and each job takes a simulator seed from the device's generator. Otherwise the batch is
    opened on ``backend`` itself (hardware ignores seeds, so none is set).
    """
    from qiskit_ibm_runtime import Batch

    simulator, restrict_noise = local_mode_simulator(backend) if simulated else (backend, None)
    sampler = runtime_sampler(Batch(backend=simulator))

    def seed_simulator(seed: int) -> None:
        sampler.options.simulator.seed_simulator = seed

    return ShotExecution(
        sampler=sampler,
        pass_manager=NoiseAwarePassManager(backend),
        backend_name=backend.name,
        seed_sampler=seed_simulator if simulated else None,
        equal_shots=True,
        on_transpiled=restrict_noise,
        details={
            "execution": "fake-shots" if simulated else "ibm-hardware",
            "hardware": not simulated,
            "emulation": (f"{EMULATION_STATEMENT}: shots of IBM Runtime local mode on Aer with the noise model "
                          f"of {backend.name}") if simulated else None,
            "calibration": calibration_timestamp(backend),
            "layout_method": LAYOUT_METHOD,
            "sampler": "qiskit_ibm_runtime.executor_sampler.Sampler (Batch)",
            "error_mitigation": "none (DI mode: raw outcomes)",
        },
    )
