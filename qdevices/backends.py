"""Turning a backend name into an execution mode.

Names accepted by every device and by the CLI's ``--backend``:

* ``exact`` (default): exact distributions from Aer, rounds sampled with numpy.
* ``aer-shots``: shots on Aer's ``SamplerV2`` (ideal simulator).
* ``fake:NAME``: shots on a noisy model of an IBM device,
  ``qiskit_ibm_runtime.fake_provider.Fake<NAME>`` (e.g. ``fake:sherbrooke``), run by the IBM
  Runtime executor sampler in local mode: the same code as ``ibm:NAME`` (:mod:`qdevices.ibm`,
  noise-aware layout), with the noise model built once per run. Needs the ``ibm`` extra.
* ``fake-exact:NAME``: the same noisy model and transpiled circuits as ``fake:NAME``, but the
  per-setting outcome table is computed once by density-matrix simulation (gate noise and
  readout errors of ``NoiseModel.from_backend``) and rounds are sampled with numpy
  (:mod:`qdevices.noisy_exact`). Needs the ``ibm`` extra.
* ``ibm:NAME``: IBM Quantum hardware (e.g. ``ibm:ibm_brisbane``) with the saved account or
  the ``QISKIT_IBM_*`` environment variables; a clear :class:`~qdevices.ibm.IBMAccountError`
  when none is configured. Needs the ``ibm`` extra.

A ready execution object (:class:`~qdevices.execution.ExactExecution` or
:class:`~qdevices.execution.ShotExecution`, e.g. from
:func:`qdevices.ibm.runtime_execution` on a backend object) may be passed instead of a name.
"""

from __future__ import annotations

from typing import Any

from .errors import DeviceInputError
from .execution import EMULATION_STATEMENT, ExactExecution, ShotExecution

BACKEND_CHOICES = "exact, aer-shots, fake:NAME, fake-exact:NAME, ibm:NAME"


def fake_backend(name: str) -> Any:
    """The fake IBM backend ``Fake<Name>`` from ``qiskit_ibm_runtime.fake_provider``."""
    try:
        from qiskit_ibm_runtime import fake_provider
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise DeviceInputError(
            "backend fake:NAME / fake-exact:NAME needs qiskit-ibm-runtime: pip install 'bellbox[ibm]'"
        ) from exc
    wanted = name.lower().removeprefix("fake")
    classes = {
        attr.lower().removeprefix("fake"): attr
        for attr in dir(fake_provider)
        if attr.startswith("Fake") and attr.lower().removeprefix("fake") and not attr.endswith("V2")
    }
    if wanted not in classes:
        known = ", ".join(sorted(classes)[:12])
        raise DeviceInputError(f"backend: unknown fake backend {name!r}; known names include {known}, ...")
    return getattr(fake_provider, classes[wanted])()


def make_execution(backend: Any = "exact") -> ExactExecution | ShotExecution:
    """Resolve ``backend`` (a name, or an execution object returned unchanged).

    Shot-mode simulators take a fresh seed from the device's generator before every job
    (:class:`~qdevices.execution.ShotExecution`), so no seed is fixed here.
    """
    if isinstance(backend, (ExactExecution, ShotExecution)):
        return backend
    if not isinstance(backend, str):
        raise DeviceInputError(f"backend must be one of {BACKEND_CHOICES}, got {backend!r}")
    if backend == "exact":
        return ExactExecution()
    if backend == "aer-shots":
        from qiskit_aer import AerSimulator
        from qiskit_aer.primitives import SamplerV2
        from qiskit.transpiler import generate_preset_pass_manager

        sampler = SamplerV2()

        def seed_simulator(job_seed: int) -> None:
            sampler.options.run_options["seed_simulator"] = job_seed

        return ShotExecution(
            sampler=sampler,
            pass_manager=generate_preset_pass_manager(optimization_level=1, backend=AerSimulator()),
            backend_name="aer-shots",
            seed_sampler=seed_simulator,
            details={"execution": "aer-shots", "hardware": False,
                     "emulation": f"{EMULATION_STATEMENT}: shots of Aer's ideal simulator"},
        )
    if backend.startswith("fake-exact:"):
        from .noisy_exact import FakeExactExecution

        return FakeExactExecution(fake_backend(backend.removeprefix("fake-exact:")))
    if backend.startswith("fake:"):
        from .ibm import runtime_execution

        return runtime_execution(fake_backend(backend.removeprefix("fake:")), simulated=True)
    if backend.startswith("ibm:") and backend.removeprefix("ibm:"):
        from .ibm import ibm_backend, runtime_execution

        return runtime_execution(ibm_backend(backend.removeprefix("ibm:")), simulated=False)
    raise DeviceInputError(f"backend must be one of {BACKEND_CHOICES}, got {backend!r}")
