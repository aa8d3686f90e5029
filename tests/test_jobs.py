"""Runs in bounded jobs: retries, clean stops, checkpoint and resume.

The reference for every comparison is an uninterrupted run of the same seeded device and
protocol randomness; a faulty run must reproduce it array for array (inputs, test bits,
outputs), with no job lost or measured twice. Devices run on ``aer-shots`` with small round
counts (a job is one Aer run per noise component). The retry schedule is checked against the
policy's definition, ``first_backoff * factor**(attempt - 1)``, computed by hand here.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from protocols.cli import main
from protocols.qkd.protocol import QKDInputError, QKDParameters, collect_records
from qdevices import ChainedBellDevice, Randomness
from qdevices.jobs import (
    CheckpointError,
    JobPolicy,
    RunControl,
    RunStoppedError,
    job_generator,
    measure_in_jobs,
)

PARAMS = QKDParameters(rounds=2_000, settings=3, gamma=0.5)
POLICY = JobPolicy(job_rounds=500, max_attempts=3, first_backoff=1.5, backoff_factor=2.0)  # 4 jobs
FIELDS = ("alice_test", "bob_test", "x", "y", "a", "b")


def make_device(fail_on: set[int] = frozenset(), interrupt_on: int | None = None) -> tuple[ChainedBellDevice, list[int]]:
    """A seeded aer-shots device whose sampler call number ``k`` (1-based) fails if ``k in fail_on``
    and raises KeyboardInterrupt at call ``interrupt_on``; returns the device and its call log."""
    device = ChainedBellDevice(3, 0.0, backend="aer-shots", seed=21)
    calls: list[int] = []
    run = device.execution.sampler.run

    def faulty_run(pubs):
        calls.append(len(calls) + 1)
        if calls[-1] == interrupt_on:
            raise KeyboardInterrupt
        if calls[-1] in fail_on:
            raise ConnectionError(f"simulated outage on call {calls[-1]}")
        return run(pubs)

    device.execution.sampler.run = faulty_run
    return device, calls


@pytest.fixture(scope="module")
def reference():
    """Uninterrupted run: 4 jobs, one sampler call each (noise 0: one component)."""
    device, calls = make_device()
    records = collect_records(device, PARAMS, Randomness(seed=5), control=RunControl(policy=POLICY))
    assert calls == [1, 2, 3, 4]
    return records


def assert_same_records(records, reference) -> None:
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(records, name), getattr(reference, name), err_msg=name)


def test_failed_jobs_are_retried_with_backoff_then_succeed(reference) -> None:
    device, calls = make_device(fail_on={2, 3})  # job 2 fails twice, succeeds at its 3rd attempt
    waits: list[float] = []
    runs = []
    control = RunControl(policy=POLICY, sleep=waits.append, on_finish=runs.append)
    records = collect_records(device, PARAMS, Randomness(seed=5), control=control)
    assert_same_records(records, reference)
    assert waits == [1.5, 3.0]
    assert len(calls) == 6 and runs[0].attempts == 6
    assert len(runs[0].job_ids) == 4  # ids of successful calls only (Aer's local job ids)


def test_always_failing_job_stops_cleanly_and_resume_completes(tmp_path, reference) -> None:
    path = tmp_path / "run"
    device, calls = make_device(fail_on=set(range(3, 100)))  # jobs 1, 2 succeed, job 3 never does
    waits: list[float] = []
    with pytest.raises(RunStoppedError) as stop:
        collect_records(device, PARAMS, Randomness(seed=5),
                        control=RunControl(policy=POLICY, checkpoint=path, sleep=waits.append))
    message = str(stop.value)
    assert "job 3 of 4 failed 3 times" in message and "ConnectionError" in message
    assert f"--resume {path}" in message
    assert waits == [1.5, 3.0] and len(calls) == 2 + 3
    manifest = json.loads((path / "manifest.json").read_text())
    assert sorted(manifest["finished"]) == ["0", "1"]
    np.testing.assert_array_equal(np.load(path / "job-000001.npy"),
                                  np.stack([reference.a, reference.b], axis=1)[500:1000])

    healthy, resumed_calls = make_device()
    runs = []
    records = collect_records(healthy, PARAMS, Randomness(seed=5), control=RunControl(resume=path, on_finish=runs.append))
    assert_same_records(records, reference)
    assert resumed_calls == [1, 2] and runs[0].resumed_jobs == 2  # only jobs 3 and 4 ran
    assert sorted(json.loads((path / "manifest.json").read_text())["finished"]) == ["0", "1", "2", "3"]


def test_interrupted_run_resumes_to_the_uninterrupted_data(tmp_path, reference) -> None:
    path = tmp_path / "run"
    device, calls = make_device(interrupt_on=4)  # the process dies during job 4
    with pytest.raises(KeyboardInterrupt):
        collect_records(device, PARAMS, Randomness(seed=5), control=RunControl(policy=POLICY, checkpoint=path))
    assert sorted(p.name for p in path.glob("job-*.npy")) == ["job-000000.npy", "job-000001.npy", "job-000002.npy"]

    # A fresh process: new device and randomness objects with the same seeds.
    healthy, resumed_calls = make_device()
    records = collect_records(healthy, PARAMS, Randomness(seed=5), control=RunControl(resume=path))
    assert_same_records(records, reference)
    assert resumed_calls == [1]  # exactly the one unfinished job


def test_resume_with_another_seed_or_device_is_refused(tmp_path) -> None:
    path = tmp_path / "run"
    device, _ = make_device(interrupt_on=2)
    with pytest.raises(KeyboardInterrupt):
        collect_records(device, PARAMS, Randomness(seed=5), control=RunControl(policy=POLICY, checkpoint=path))
    with pytest.raises(QKDInputError, match="seed"):
        collect_records(make_device()[0], PARAMS, Randomness(seed=6), control=RunControl(resume=path))
    other = ChainedBellDevice(3, 0.1, backend="aer-shots", seed=21)
    with pytest.raises(CheckpointError, match="noise"):
        collect_records(other, PARAMS, Randomness(seed=5), control=RunControl(resume=path))
    with pytest.raises(CheckpointError, match="already exists"):
        collect_records(make_device()[0], PARAMS, Randomness(seed=5), control=RunControl(policy=POLICY, checkpoint=path))


def test_job_streams_are_apart_from_the_device_stream() -> None:
    """``SeedSequence([s, 0]) == SeedSequence(s)`` in numpy; the job tag keeps job 0 apart."""
    seed = 21
    assert np.array_equal(np.random.default_rng([seed, 0]).random(4), np.random.default_rng(seed).random(4))
    job_zero = job_generator(seed, 0).random(4)
    assert not np.array_equal(job_zero, np.random.default_rng(seed).random(4))
    assert not np.array_equal(job_zero, job_generator(seed, 1).random(4))


def test_exact_mode_jobs_do_not_depend_on_earlier_jobs() -> None:
    """Job k's outcomes are a function of (seed, k, its inputs): measuring the last job alone
    (as a run of one job after a resume would) gives the same rows."""
    inputs = np.stack([np.arange(3000) % 3, np.arange(3000) % 4], axis=1)
    whole = measure_in_jobs(ChainedBellDevice(3, 0.2, seed=8), inputs, RunControl(policy=JobPolicy(job_rounds=1000)))
    device = ChainedBellDevice(3, 0.2, seed=8)
    device.rng = job_generator(8, 2)
    np.testing.assert_array_equal(device.measure(inputs[2000:]), whole.outputs[2000:])


@pytest.mark.parametrize("bad", [{"job_rounds": 0}, {"max_attempts": 0}, {"backoff_factor": 0.5}])
def test_policy_rejects_bad_values(bad) -> None:
    with pytest.raises(ValueError, match=next(iter(bad))):
        JobPolicy(**bad)


def test_cli_resume_restores_the_run_options(tmp_path, capsys) -> None:
    path = tmp_path / "run"
    argv = ["qkd", "--rounds", "3000", "--settings", "3", "--gamma", "0.5", "--seed", "9", "--job-rounds", "1000", "--json"]
    first = main(argv + ["--checkpoint", str(path)])
    report = json.loads(capsys.readouterr().out)
    second = main(["qkd", "--resume", str(path), "--json"])  # every job finished: nothing re-runs
    resumed = json.loads(capsys.readouterr().out)
    assert first == second
    assert resumed["device_run"]["resumed_jobs"] == 3 and report["device_run"]["jobs"] == 3
    for key in ("rounds", "settings", "gamma", "bell_value", "estimation_rounds", "raw_key_rounds", "status", "key_length"):
        assert resumed[key] == report[key], key


def test_cli_resume_of_a_missing_checkpoint_exits_2(tmp_path, capsys) -> None:
    assert main(["qkd", "--resume", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot be read" in err
