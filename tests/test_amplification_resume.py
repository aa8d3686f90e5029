"""Protocol I measured in checkpointed jobs: interrupted, failing and resumed runs give the data
and the bits of an uninterrupted run with the same seeds, with no run lost or measured twice.

The device is the exact-mode ideal four-party device whose ``measure`` is wrapped to fail or to
raise ``KeyboardInterrupt`` (a killed process) on chosen calls, as ``tests/test_jobs.py`` does
for DI-QKD. ``RUNS = 160,000`` exceed the planner's 156,482 runs for 1 bit at error 0.5 (eps = 0,
delta = 0), so the reference is certified and the comparison covers the extracted bit too.
Comparisons are array equality, no tolerance.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from protocols.amplification.protocol1 import (MAX_JOB_RUNS, STATUS_CERTIFIED, AmplificationInputError,
                                     CyclicShiftExtractor, run_protocol1)
from protocols.cli import main
from qdevices import FourPartyDevice
from qdevices.jobs import CheckpointError, JobPolicy, RunControl, RunStoppedError
from qdevices.randomness import Randomness
from qdevices.sources import named_source

RUNS, JOB = 160_000, 40_000  # 4 jobs
POLICY = JobPolicy(job_rounds=JOB, max_attempts=3, first_backoff=2.0, backoff_factor=3.0)
EXTRACTOR = CyclicShiftExtractor()


def make_device(fail_on: frozenset[int] = frozenset(), interrupt_on: int | None = None):
    """Seeded ideal device; ``measure`` call ``k`` (1-based) raises ConnectionError if
    ``k in fail_on`` and KeyboardInterrupt if ``k == interrupt_on``. Returns (device, rows measured
    per successful call)."""
    device = FourPartyDevice(0.0, seed=41)
    measured: list[int] = []
    calls = [0]
    measure = device.measure

    def faulty(settings, *args, **kwargs):
        calls[0] += 1
        if calls[0] == interrupt_on:
            raise KeyboardInterrupt
        if calls[0] in fail_on:
            raise ConnectionError(f"simulated outage on call {calls[0]}")
        measured.append(int(settings.shape[0]))
        return measure(settings, *args, **kwargs)

    device.measure = faulty
    return device, measured


def source(seed: int = 42):
    return named_source("steer-untested", 0.0, Randomness(seed=seed))


def protocol(device, control: RunControl, seed: int = 42):
    return run_protocol1(device, source(seed), RUNS, delta=0.0, error=0.5, extractor=EXTRACTOR,
                         output_bits=1, control=control)


@pytest.fixture(scope="module")
def reference():
    device, measured = make_device()
    runs = []
    result = protocol(device, RunControl(policy=POLICY, on_finish=runs.append))
    assert measured == [JOB] * 4 and result.status == STATUS_CERTIFIED
    return result, runs[0]


def assert_same(result, run, reference) -> None:
    expected_result, expected_run = reference
    np.testing.assert_array_equal(run.inputs, expected_run.inputs)
    np.testing.assert_array_equal(run.outputs, expected_run.outputs)
    assert result.bell_test == expected_result.bell_test
    np.testing.assert_array_equal(result.output, expected_result.output)


def test_settings_are_the_sources_bits_in_order(reference) -> None:
    """All settings drawn up front equal the source's first 4n bits, run-major."""
    _, run = reference
    np.testing.assert_array_equal(run.inputs.reshape(-1), source().bits(4 * RUNS))


def test_interrupted_run_resumes_to_the_uninterrupted_data(tmp_path, reference) -> None:
    path = tmp_path / "run"
    device, measured = make_device(interrupt_on=3)  # the process dies during job 3
    with pytest.raises(KeyboardInterrupt):
        protocol(device, RunControl(policy=POLICY, checkpoint=path))
    assert sorted(p.name for p in path.glob("job-*.npy")) == ["job-000000.npy", "job-000001.npy"]

    healthy, resumed = make_device()  # a fresh process: new objects, same seeds
    runs = []
    result = protocol(healthy, RunControl(resume=path, on_finish=runs.append))
    assert_same(result, runs[0], reference)
    assert measured + resumed == [JOB] * 4  # every run measured exactly once over both processes
    assert runs[0].resumed_jobs == 2


def test_failing_job_stops_with_an_intact_checkpoint_then_resumes(tmp_path, reference) -> None:
    path = tmp_path / "run"
    waits: list[float] = []
    device, measured = make_device(fail_on=frozenset(range(2, 100)))  # job 2 never succeeds
    with pytest.raises(RunStoppedError, match="job 2 of 4 failed 3 times") as stop:
        protocol(device, RunControl(policy=POLICY, checkpoint=path, sleep=waits.append))
    assert f"--resume {path}" in str(stop.value)
    assert waits == [2.0, 6.0]  # first_backoff * factor**(attempt - 1), by hand
    assert sorted(json.loads((path / "manifest.json").read_text())["finished"]) == ["0"]

    healthy, resumed = make_device(fail_on=frozenset({1}))  # one more outage, retried
    runs = []
    result = protocol(healthy, RunControl(policy=POLICY, resume=path, on_finish=runs.append,
                                          sleep=waits.append))
    assert_same(result, runs[0], reference)
    assert measured + resumed == [JOB] * 4 and waits[-1] == 2.0


def test_resume_with_another_seed_or_noise_is_refused(tmp_path) -> None:
    path = tmp_path / "run"
    device, _ = make_device(interrupt_on=2)
    with pytest.raises(KeyboardInterrupt):
        protocol(device, RunControl(policy=POLICY, checkpoint=path))
    with pytest.raises(AmplificationInputError, match="seed"):
        protocol(make_device()[0], RunControl(resume=path), seed=43)
    with pytest.raises(CheckpointError, match="noise"):
        protocol(FourPartyDevice(0.1, seed=41), RunControl(resume=path))


def test_too_many_runs_for_jobs_is_refused_before_any_work() -> None:
    with pytest.raises(AmplificationInputError, match=f"runs must be <= {MAX_JOB_RUNS}"):
        run_protocol1(FourPartyDevice(0.0, seed=1), source(), MAX_JOB_RUNS + 1, delta=0.0,
                      error=0.5, extractor=EXTRACTOR, output_bits=1, control=RunControl())


def test_cli_checkpoint_interrupt_and_resume(tmp_path, capsys, monkeypatch) -> None:
    path = tmp_path / "cli-run"
    argv = ["amplify", "--sv-eps", "0", "--runs", "3000", "--seed", "9", "--bits", "1",
            "--noise", "0.2", "--delta", "0.5", "--job-rounds", "1000", "--json"]
    assert main(argv) == 3
    uninterrupted = json.loads(capsys.readouterr().out)

    measure = FourPartyDevice.measure
    calls = [0]

    def dies_on_third_call(self, settings, *args, **kwargs):
        calls[0] += 1
        if calls[0] == 3:
            raise KeyboardInterrupt
        return measure(self, settings, *args, **kwargs)

    monkeypatch.setattr(FourPartyDevice, "measure", dies_on_third_call)
    with pytest.raises(KeyboardInterrupt):
        main(argv + ["--checkpoint", str(path)])
    monkeypatch.setattr(FourPartyDevice, "measure", measure)
    capsys.readouterr()
    assert main(["amplify", "--resume", str(path), "--json"]) == 3  # options come from DIR
    resumed = json.loads(capsys.readouterr().out)
    assert resumed["device_run"]["resumed_jobs"] == 2 and resumed["device_run"]["jobs"] == 3
    for key in ("runs", "violations", "bell_average", "delta", "status", "sv_eps", "source"):
        assert resumed[key] == uninterrupted[key], key
    assert uninterrupted["violations"] > 0  # noise 0.2: the count depends on every outcome
    assert main(["amplify", "--sv-eps", "0", "--runs", "100", "--protocol", "2", "--blocks", "2",
                 "--checkpoint", str(tmp_path / "p2")]) == 2
    assert "Protocol I only" in capsys.readouterr().err
