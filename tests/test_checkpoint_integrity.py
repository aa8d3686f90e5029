"""Checkpoint job files are checked against SHA-256s in the manifest, and a finished
checkpointed DI-QKD run is never distilled twice (issue 9, items 5 and 6)."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest

from protocols.cli import main
from qdevices import ChainedBellDevice
from qdevices.jobs import CheckpointError, JobPolicy, RunControl, measure_in_jobs

INPUTS = np.stack([np.arange(3000) % 3, np.arange(3000) % 4], axis=1)
POLICY = JobPolicy(job_rounds=1000)


def _checkpoint(path, seed=8):
    measure_in_jobs(ChainedBellDevice(3, 0.2, seed=seed), INPUTS, RunControl(policy=POLICY, checkpoint=path))
    return json.loads((path / "manifest.json").read_text())


def test_manifest_holds_the_sha256_of_each_job_file(tmp_path) -> None:
    manifest = _checkpoint(tmp_path / "run")
    for entry in manifest["finished"].values():
        assert entry["sha256"] == hashlib.sha256((tmp_path / "run" / entry["file"]).read_bytes()).hexdigest()
        inputs = tmp_path / "run" / entry["inputs_file"]
        assert entry["inputs_sha256"] == hashlib.sha256(inputs.read_bytes()).hexdigest()


def test_inputs_are_kept_per_job(tmp_path) -> None:
    """Format 3: each finished job keeps its own inputs; there is no whole-run inputs file."""
    manifest = _checkpoint(tmp_path / "run")
    assert manifest["format"] == "bellbox-checkpoint/3"
    assert not (tmp_path / "run" / "inputs.npz").exists()
    for job in range(3):
        with np.load(tmp_path / "run" / f"inputs-{job:06d}.npz") as stored:
            np.testing.assert_array_equal(stored["inputs"], INPUTS[1000 * job:1000 * (job + 1)])


@pytest.mark.parametrize("name", ["job-000001.npy", "inputs-000001.npz"])
@pytest.mark.parametrize("damage", ["missing", "truncated", "foreign"])
def test_damaged_job_file_is_an_error_naming_it(tmp_path, damage, name) -> None:
    path = tmp_path / "run"
    _checkpoint(path)
    job = path / name
    if damage == "missing":
        job.unlink()
    elif damage == "truncated":
        job.write_bytes(job.read_bytes()[:100])
    else:  # well-formed, same shape, from a run with another seed
        other = tmp_path / "other"
        measure_in_jobs(ChainedBellDevice(3, 0.2, seed=9), INPUTS[::-1].copy(), RunControl(policy=POLICY, checkpoint=other))
        shutil.copy(other / name, job)
    with pytest.raises(CheckpointError, match=name):
        measure_in_jobs(ChainedBellDevice(3, 0.2, seed=8), INPUTS, RunControl(resume=path))


def test_cli_damaged_job_file_is_one_line_exit_2(tmp_path, capsys) -> None:
    path = tmp_path / "run"
    argv = ["qkd", "--rounds", "3000", "--settings", "3", "--gamma", "0.5", "--seed", "9", "--job-rounds", "1000"]
    main(argv + ["--checkpoint", str(path)])
    (path / "report.json").unlink()  # as if interrupted after the last job
    (path / "job-000002.npy").write_bytes(b"")
    capsys.readouterr()
    assert main(["qkd", "--resume", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "job-000002.npy" in err


def test_finished_unseeded_run_is_not_distilled_again(tmp_path, capsys, monkeypatch) -> None:
    """Unseeded (OS randomness): a second distillation would use fresh hash seeds."""
    path = tmp_path / "run"
    assert main(["qkd", "--rounds", "300000", "--checkpoint", str(path), "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    stored = json.loads((path / "report.json").read_text())
    assert stored["key_sha256"] == first["key_sha256"] is not None

    import protocols.qkd.protocol as protocol
    monkeypatch.setattr(protocol, "distill_key", lambda *a, **k: pytest.fail("distilled again"))
    for _ in range(2):
        assert main(["qkd", "--resume", str(path), "--json"]) == 0
        again = json.loads(capsys.readouterr().out)
        assert again["key_sha256"] == first["key_sha256"]
        assert again["raw_records_sha256"] == first["raw_records_sha256"]
        assert again["device_run"]["resumed_jobs"] == again["device_run"]["jobs"]
    key = tmp_path / "k.bin"
    assert main(["qkd", "--resume", str(path), "--key-out", str(key)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already distilled" in err and not key.exists()


def test_tampered_raw_fingerprint_is_refused(tmp_path, capsys) -> None:
    path = tmp_path / "run"
    main(["qkd", "--rounds", "3000", "--settings", "3", "--gamma", "0.5", "--seed", "9", "--checkpoint", str(path)])
    report = json.loads((path / "report.json").read_text())
    report["raw_records_sha256"] = "0" * 64
    (path / "report.json").write_text(json.dumps(report))
    capsys.readouterr()
    assert main(["qkd", "--resume", str(path)]) == 2
    assert "SHA-256" in capsys.readouterr().err
