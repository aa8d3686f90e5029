"""Long device runs as bounded jobs: checkpoint, resume, retry with back-off.

A run measures ``inputs`` (one row per round) on a device in *jobs* of at most ``job_rounds``
consecutive rounds; job ``k`` covers rounds ``[k J, min((k+1) J, N))``. In shot mode one job is
one sampler job (one PUB per noise component, at most ``J`` shots each).

Determinism
    Before each job (and each retry) the device's generator is replaced by
    ``default_rng(SeedSequence([root, JOB_STREAM, k]))``, where ``root`` is the device seed (or,
    for an unseeded device, 128 bits of OS entropy drawn once per run and kept in the
    checkpoint). A job's outcomes therefore depend on ``(root, k)`` and its inputs only, not on
    how many jobs ran before in this process, so a resumed run equals an uninterrupted one.
    The tag ``JOB_STREAM`` keeps the job streams apart from ``default_rng(seed)``
    (``SeedSequence([s, 0])`` equals ``SeedSequence(s)``).

Checkpoint (a directory, written only through atomic renames, so it is intact after any crash)
    ``manifest.json``     format, rounds, job size, device description, backend, layout and
                          calibration, stream root, caller metadata, and per finished job: its
                          two file names, their SHA-256s, sampler job ids and attempts
    ``inputs-KKKKKK.npz`` the inputs and the caller's context arrays of finished job ``K``
    ``job-KKKKKK.npy``    the outputs of finished job ``K``
    ``circuits.qpy``      the transpiled circuits (shot mode), reused on resume so the same
                          physical qubits are measured even if the backend recalibrated

    A job's inputs are drawn (by the caller's ``draw``) just before the job runs, so a run's
    memory is bounded by one job whatever the number of rounds, and no checkpoint holds the
    inputs of rounds not yet measured. On resume the files of a finished job must have the
    SHA-256s in the manifest, so a missing, truncated or foreign file is a
    :class:`CheckpointError` naming it (it is not re-run silently: a foreign file may mean
    the directory was mixed up with another run). An unfinished job's inputs are drawn again.
    The checkpoint holds raw outcomes: keep it inside the lab, like key material (the
    directory is created with mode 0700 and its files with mode 0600).

Faults
    An exception other than ``ValueError`` (bad input is not transient) or ``KeyboardInterrupt``
    makes the job retry after ``first_backoff * factor**(attempt - 1)`` seconds, at most
    ``max_attempts`` attempts in all. Then :class:`RunStoppedError` (a ``RuntimeError``, not bad
    input: the CLI prints one line and exits with status 4) names the job and the command that
    resumes the checkpoint.
    An interrupt leaves the checkpoint as it was after the last finished job.
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from .atomic import write_atomic_with
from .errors import DeviceInputError

#: Tag of the per-job device streams ("jobs").
JOB_STREAM = 0x6A6F6273
#: Job size in shot mode: bounded for hardware queues (shots per PUB <= this).
SHOT_JOB_ROUNDS = 100_000
#: Job size in exact (numpy) mode: bounds memory only.
EXACT_JOB_ROUNDS = 1_000_000
#: Version 3 keeps the inputs per job (``inputs-KKKKKK.npz``) instead of one whole-run file.
FORMAT = "bellbox-checkpoint/3"


class RunStoppedError(RuntimeError):
    """A job failed every attempt; the message names the job and the checkpoint to resume."""


class CheckpointError(ValueError):
    """A checkpoint is missing, malformed, or belongs to a different run."""


@dataclass(frozen=True)
class JobPolicy:
    """Job size and retry schedule.

    ``job_rounds = None`` picks :data:`SHOT_JOB_ROUNDS` for shot-mode devices and
    :data:`EXACT_JOB_ROUNDS` otherwise.
    """

    job_rounds: int | None = None
    max_attempts: int = 4
    first_backoff: float = 30.0
    backoff_factor: float = 2.0

    def __post_init__(self) -> None:
        if self.job_rounds is not None and (not isinstance(self.job_rounds, (int, np.integer)) or self.job_rounds < 1):
            raise DeviceInputError(f"job_rounds must be an integer >= 1, got {self.job_rounds!r}")
        if not isinstance(self.max_attempts, (int, np.integer)) or self.max_attempts < 1:
            raise DeviceInputError(f"max_attempts must be an integer >= 1, got {self.max_attempts!r}")
        if self.first_backoff < 0 or self.backoff_factor < 1:
            raise DeviceInputError(
                f"first_backoff must be >= 0 and backoff_factor >= 1, got {self.first_backoff}, {self.backoff_factor}"
            )

    def rounds_per_job(self, device: Any) -> int:
        if self.job_rounds is not None:
            return int(self.job_rounds)
        return SHOT_JOB_ROUNDS if execution_mode(device) == "shots" else EXACT_JOB_ROUNDS

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        return self.first_backoff * self.backoff_factor ** (attempt - 1)


@dataclass(frozen=True)
class RunControl:
    """How a run is split, kept and continued.

    ``checkpoint`` starts a new checkpoint directory; ``resume`` continues one (then the job
    size, stream root, finished jobs and transpiled circuits come from it). ``metadata`` (JSON) is
    stored with a new checkpoint, e.g. the command that started the run. ``sleep`` is
    injectable so tests do not wait. ``on_finish`` receives the :class:`DeviceRun` when every
    job is done (e.g. to report job ids and the layout from a protocol that returns records).
    """

    policy: JobPolicy = field(default_factory=JobPolicy)
    checkpoint: Path | None = None
    resume: Path | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    sleep: Callable[[float], None] = time.sleep
    on_finish: Callable[["DeviceRun"], None] | None = None

    def __post_init__(self) -> None:
        if self.checkpoint is not None and self.resume is not None:
            raise CheckpointError("checkpoint and resume are exclusive: resume keeps writing to its own checkpoint")


@dataclass(frozen=True)
class DeviceRun:
    """Outcome of a run in jobs. :func:`measure_in_jobs` fills ``inputs``/``outputs``/``context``
    with the rounds measured (the checkpoint's for finished jobs when resuming); a streamed run
    (:func:`run_jobs`) keeps no arrays and leaves them ``None``."""

    rounds: int
    jobs: int
    job_rounds: int
    resumed_jobs: int
    attempts: int
    job_ids: tuple[str, ...]
    execution: dict[str, Any]
    checkpoint: str | None
    inputs: np.ndarray | None = None
    outputs: np.ndarray | None = None
    context: dict[str, np.ndarray] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no arrays)."""
        return {
            "rounds": self.rounds,
            "jobs": self.jobs,
            "job_rounds": self.job_rounds,
            "resumed_jobs": self.resumed_jobs,
            "attempts": self.attempts,
            "job_ids": list(self.job_ids),
            "checkpoint": self.checkpoint,
            **self.execution,
        }


def execution_mode(device: Any) -> str:
    execution = getattr(device, "execution", None)
    return getattr(execution, "mode", "exact")


def describe_execution(device: Any) -> dict[str, Any]:
    """Backend, mode, physical qubits per party and calibration of a device's execution."""
    execution = getattr(device, "execution", None)
    if execution is None or not hasattr(execution, "describe"):
        return {"backend": getattr(device, "name", "device"), "mode": "table"}
    return execution.describe(device.family)


def job_generator(root: int, job: int) -> np.random.Generator:
    """The device generator of job ``job`` of a run with stream root ``root``."""
    return np.random.default_rng(np.random.SeedSequence([root, JOB_STREAM, job]))


class Checkpoint:
    """A checkpoint directory (layout in the module docstring)."""

    def __init__(self, path: Path, manifest: dict[str, Any]):
        self.path, self.manifest = path, manifest

    @classmethod
    def create(cls, path: Path, manifest: dict[str, Any]) -> "Checkpoint":
        path = Path(path)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise CheckpointError(f"checkpoint {str(path)!r} already exists; resume it or choose a new path")
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        checkpoint = cls(path, {"format": FORMAT, **manifest, "finished": {}})
        checkpoint.save_manifest()
        return checkpoint

    @classmethod
    def open(cls, path: Path) -> "Checkpoint":
        path = Path(path)
        try:
            manifest = json.loads((path / "manifest.json").read_text())
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"checkpoint {str(path)!r} cannot be read: {exc}") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            found = manifest.get("format") if isinstance(manifest, dict) else None
            raise CheckpointError(f"checkpoint {str(path)!r}: format must be {FORMAT!r}, got {found!r}")
        return cls(path, manifest)

    @property
    def finished(self) -> dict[str, Any]:
        return self.manifest["finished"]

    def _write(self, name: str, data: bytes) -> None:
        write_atomic_with(self.path / name, lambda handle: handle.write(data), secret=True)

    def save_manifest(self) -> None:
        self._write("manifest.json", json.dumps(self.manifest, indent=2).encode())

    def save_circuits(self, circuits: list[Any]) -> None:
        from qiskit import qpy

        write_atomic_with(self.path / "circuits.qpy", lambda handle: qpy.dump(circuits, handle), secret=True)

    def load_circuits(self) -> list[Any] | None:
        from qiskit import qpy

        file = self.path / "circuits.qpy"
        if not file.exists():
            return None
        with file.open("rb") as handle:
            return list(qpy.load(handle))

    def save_job(self, job: int, inputs: np.ndarray, context: Mapping[str, np.ndarray], outputs: np.ndarray,
                 job_ids: list[str], attempts: int) -> None:
        """Store job ``job``'s inputs and outputs, then record it as finished (in that order)."""
        inputs_name, outputs_name = f"inputs-{job:06d}.npz", f"job-{job:06d}.npy"
        inputs_data = _serialise(lambda f: np.savez(f, inputs=inputs, **context))
        outputs_data = _serialise(lambda f: np.save(f, outputs))
        self._write(inputs_name, inputs_data)
        self._write(outputs_name, outputs_data)
        self.finished[str(job)] = {"file": outputs_name, "sha256": hashlib.sha256(outputs_data).hexdigest(),
                                   "inputs_file": inputs_name,
                                   "inputs_sha256": hashlib.sha256(inputs_data).hexdigest(),
                                   "job_ids": job_ids, "attempts": attempts,
                                   "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        self.save_manifest()

    def _verified(self, job: int, name_key: str, sha_key: str) -> tuple[str, bytes]:
        entry = self.finished[str(job)]
        file = self.path / entry[name_key]
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise CheckpointError(f"checkpoint {str(self.path)!r}: job file {file.name!r} of finished job "
                                  f"{job + 1} cannot be read ({exc.strerror})") from None
        if hashlib.sha256(data).hexdigest() != entry.get(sha_key):
            raise CheckpointError(f"checkpoint {str(self.path)!r}: job file {file.name!r} does not match the "
                                  "SHA-256 recorded in the manifest (truncated, modified or from another run)")
        return file.name, data

    def load_job(self, job: int, rounds: int, parties: int) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
        """Job ``job``'s ``(inputs, context, outputs)``, after checking both files against the
        manifest's SHA-256s and the outputs' shape against ``(rounds, parties)``."""
        name, data = self._verified(job, "inputs_file", "inputs_sha256")
        with np.load(io.BytesIO(data), allow_pickle=False) as stored:
            context = {key: stored[key] for key in stored.files}
        inputs = context.pop("inputs")
        name, data = self._verified(job, "file", "sha256")
        outputs = np.load(io.BytesIO(data), allow_pickle=False)
        for what, shape, expected in (("outputs", outputs.shape, (rounds, parties)),
                                      ("inputs", inputs.shape[:1], (rounds,))):
            if shape != expected:
                raise CheckpointError(f"checkpoint {str(self.path)!r}: job file {name!r} has {what} of shape "
                                      f"{shape}, expected {expected}")
        return inputs, context, outputs


def _serialise(write: Callable[[Any], Any]) -> bytes:
    buffer = io.BytesIO()
    write(buffer)
    return buffer.getvalue()


def _resume_command(checkpoint: Checkpoint) -> str:
    """``bellbox <subcommand> --resume DIR`` (just ``--resume DIR`` without a stored command)."""
    command = checkpoint.manifest.get("metadata", {}).get("command", {}).get("subcommand")
    return f"bellbox {command} --resume {checkpoint.path}" if command else f"--resume {checkpoint.path}"


def _device_identity(device: Any) -> dict[str, Any]:
    return json.loads(json.dumps(device.describe(), default=str)) if hasattr(device, "describe") else {}


def _open_for_resume(path: Path, device: Any) -> Checkpoint:
    checkpoint = Checkpoint.open(path)
    stored, current = checkpoint.manifest["device"], _device_identity(device)
    for key in sorted(set(stored) | set(current)):
        if stored.get(key) != current.get(key):
            raise CheckpointError(
                f"checkpoint {str(path)!r} was made with device {key}={stored.get(key)!r}, this run has {current.get(key)!r}"
            )
    circuits = checkpoint.load_circuits()
    if circuits is not None:
        device.execution.install(device.family, circuits)
    return checkpoint


#: ``draw(job, count) -> (inputs, context)``: the inputs (``count`` rows) and context arrays of a job.
Draw = Callable[[int, int], tuple[np.ndarray, Mapping[str, np.ndarray]]]
#: ``consume(inputs, context, outputs, drawn)``: one job's data, in job order; ``drawn`` is what
#: ``draw`` returned (for a job reloaded from a checkpoint it may differ from ``inputs, context``).
Consume = Callable[[np.ndarray, Mapping[str, np.ndarray], np.ndarray, tuple], None]


def run_jobs(
    device: Any,
    rounds: int,
    draw: Draw,
    consume: Consume,
    control: RunControl | None = None,
    progress: Callable[[int], None] | None = None,
) -> DeviceRun:
    """Measure ``rounds`` rounds on ``device`` in jobs, streaming: memory of one job at a time.

    For each job ``k`` in order: ``draw(k, count)`` gives its inputs and context; a job
    finished in the checkpoint being resumed is reloaded (inputs, context and outputs, SHA-256
    checked), any other job is measured with retries (and stored when checkpointing); then
    ``consume`` receives the job's data. ``draw`` is called for reloaded jobs too, so that a
    seeded caller stays at the same position in its stream and can compare its draws with the
    stored ones. ``progress(k)`` reports rounds done.
    """
    control = control if control is not None else RunControl()
    checkpoint: Checkpoint | None = None
    if control.resume is not None:
        checkpoint = _open_for_resume(control.resume, device)
        if int(checkpoint.manifest["rounds"]) != rounds:
            raise CheckpointError(f"rounds: the checkpoint {str(control.resume)!r} has "
                                  f"{checkpoint.manifest['rounds']} rounds, this run {rounds}")
        job_rounds, root = int(checkpoint.manifest["job_rounds"]), int(checkpoint.manifest["stream_root"])
        execution = checkpoint.manifest["execution"]
    else:
        job_rounds = control.policy.rounds_per_job(device)
        seed = getattr(device, "seed", None)
        root = int(seed) if seed is not None else secrets.randbits(128)
        execution = describe_execution(device)
    jobs = -(-rounds // job_rounds)
    if control.checkpoint is not None:
        checkpoint = Checkpoint.create(control.checkpoint, {
            "rounds": rounds, "job_rounds": job_rounds, "jobs": jobs, "stream_root": str(root),
            "device": _device_identity(device), "execution": execution, "metadata": dict(control.metadata),
        })
        if execution_mode(device) == "shots":
            checkpoint.save_circuits(device.execution.transpiled(device.family))
    done = set(int(k) for k in checkpoint.finished) if checkpoint is not None else set()
    job_ids: list[str] = []
    total_attempts = 0
    for job in range(jobs):
        count = min(job_rounds, rounds - job * job_rounds)
        drawn = draw(job, count)
        if job in done:
            inputs, context, outputs = checkpoint.load_job(job, count, device.parties)
            job_ids.extend(checkpoint.finished[str(job)]["job_ids"])
        else:
            inputs, context = drawn
            outputs, ids, attempts = _run_job(device, inputs, root, job, control, checkpoint, jobs)
            job_ids.extend(ids)
            total_attempts += attempts
            if checkpoint is not None:
                checkpoint.save_job(job, inputs, context, outputs, ids, attempts)
        consume(inputs, context, outputs, drawn)
        if progress is not None:
            progress(count)
    run = DeviceRun(rounds, jobs, job_rounds, len(done), total_attempts, tuple(job_ids), execution,
                    str(checkpoint.path) if checkpoint is not None else None)
    if control.on_finish is not None:
        control.on_finish(run)
    return run


def measure_in_jobs(
    device: Any,
    inputs: np.ndarray,
    control: RunControl | None = None,
    context: Mapping[str, np.ndarray] | None = None,
    progress: Callable[[int], None] | None = None,
) -> DeviceRun:
    """Measure the given ``inputs`` (one row per round) in jobs and keep every array in memory.

    :func:`run_jobs` with ``draw`` slicing ``inputs`` and ``context``; the returned run holds
    the inputs, context and outputs measured (a resumed run's finished jobs come from the
    checkpoint, so the caller can compare them with its own).
    """
    control = control if control is not None else RunControl()
    inputs = np.asarray(inputs)
    context = dict(context or {})
    rounds = inputs.shape[0]
    kept: list[tuple[np.ndarray, Mapping[str, np.ndarray], np.ndarray]] = []
    position = [0]

    def draw(job: int, count: int):
        start = position[0]
        position[0] += count
        return inputs[start:start + count], {name: values[start:start + count] for name, values in context.items()}

    on_finish, runs = control.on_finish, []
    run = run_jobs(device, rounds, draw, lambda i, c, o, _: kept.append((i, c, o)),
                   replace(control, on_finish=runs.append), progress)
    run = replace(run, inputs=_concatenate([i for i, _, _ in kept], inputs[:0]),
                  outputs=_concatenate([o for _, _, o in kept], np.empty((0, device.parties), np.uint8)),
                  context={name: _concatenate([c[name] for _, c, _ in kept], context.get(name, inputs[:0, 0]))
                           for name in (kept[0][1] if kept else context)})
    if on_finish is not None:
        on_finish(run)
    return run


def _concatenate(parts: list[np.ndarray], empty: np.ndarray) -> np.ndarray:
    return np.concatenate(parts) if parts else empty


def _run_job(
    device: Any, inputs: np.ndarray, root: int, job: int, control: RunControl,
    checkpoint: Checkpoint | None, jobs: int,
) -> tuple[np.ndarray, list[str], int]:
    """One job with retries: (outputs, sampler job ids, attempts)."""
    policy = control.policy
    ids = getattr(getattr(device, "execution", None), "job_ids", None)
    attempt = 0
    while True:
        attempt += 1
        mark = len(ids) if ids is not None else 0
        device.rng = job_generator(root, job)
        try:
            outputs = device.measure(inputs)
        except (ValueError, KeyboardInterrupt):
            raise
        except Exception as exc:  # any fault of the sampler, the network or the service
            if attempt < policy.max_attempts:
                control.sleep(policy.backoff(attempt))
                continue
            where = (f"checkpoint {str(checkpoint.path)!r} keeps the {len(checkpoint.finished)} finished jobs; "
                     f"continue with {_resume_command(checkpoint)}") if checkpoint is not None else \
                "no checkpoint was kept (use --checkpoint PATH to keep finished jobs)"
            raise RunStoppedError(
                f"job {job + 1} of {jobs} failed {attempt} times (last error: {type(exc).__name__}: {exc}); {where}"
            ) from exc
        return outputs, list(ids[mark:]) if ids is not None else [], attempt
