"""Turning a backend name into an execution mode.

Names accepted by every device and by the CLI's ``--backend``:

* ``exact`` (default): exact distributions from Aer, rounds sampled with numpy.
* ``aer-shots``: shots on Aer's ``SamplerV2`` (ideal simulator).
* ``fake:NAME``: shots on a noisy model of an IBM device, ``AerSimulator.from_backend`` of
  ``qiskit_ibm_runtime.fake_provider.Fake<NAME>`` (e.g. ``fake:sherbrooke``), with circuits
  transpiled by a preset pass manager for that backend (noise-aware layout, optimisation
  level 1). Needs the ``ibm`` extra.

A ready execution object (:class:`~qdevices.execution.ExactExecution` or
:class:`~qdevices.execution.ShotExecution`, e.g. wrapping an IBM Runtime sampler for real
hardware) may be passed instead of a name.
"""

from __future__ import annotations

from typing import Any

from .errors import DeviceInputError
from .execution import ExactExecution, ShotExecution

BACKEND_CHOICES = "exact, aer-shots, fake:NAME"


def fake_backend(name: str) -> Any:
    """The fake IBM backend ``Fake<Name>`` from ``qiskit_ibm_runtime.fake_provider``."""
    try:
        from qiskit_ibm_runtime import fake_provider
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise DeviceInputError(
            "backend fake:NAME needs qiskit-ibm-runtime: pip install 'bellbox[ibm]'"
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


def make_execution(backend: Any = "exact", seed: int | None = None) -> ExactExecution | ShotExecution:
    """Resolve ``backend`` (a name, or an execution object returned unchanged)."""
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

        simulator = AerSimulator()
        return ShotExecution(
            sampler=SamplerV2(seed=seed),
            pass_manager=generate_preset_pass_manager(optimization_level=1, backend=simulator),
            backend_name="aer-shots",
        )
    if backend.startswith("fake:"):
        from qiskit_aer.primitives import SamplerV2
        from qiskit.transpiler import generate_preset_pass_manager

        device = fake_backend(backend.removeprefix("fake:"))
        return ShotExecution(
            sampler=SamplerV2.from_backend(device, seed=seed),
            pass_manager=generate_preset_pass_manager(optimization_level=1, backend=device),
            backend_name=device.name,
        )
    raise DeviceInputError(f"backend must be one of {BACKEND_CHOICES}, got {backend!r}")
