"""Exit statuses and guard rails of the CLI (issue 9, items 4 and 7): 2 bad input, 3 no output
(also a closed stdout pipe), 4 run failed (names the resume command), 130 interrupted."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from protocols.cli import main
from qdevices import ChainedBellDevice


def _one_line(err: str, *words: str) -> None:
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for word in words:
        assert word in err, err


def _run_script(script: str, tmp_path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)


def test_failing_jobs_exit_4_naming_the_resume_command(tmp_path, capsys, monkeypatch) -> None:
    def broken(self, *args, **kwargs):
        raise RuntimeError("service unavailable")
    monkeypatch.setattr(ChainedBellDevice, "measure", broken)
    path = tmp_path / "run"
    assert main(["qkd", "--rounds", "3000", "--settings", "3", "--seed", "1", "--checkpoint", str(path),
                 "--max-attempts", "1", "--retry-wait", "0"]) == 4
    _one_line(capsys.readouterr().err, f"bellbox qkd --resume {path}")


def test_ctrl_c_exits_130_with_the_resume_hint(tmp_path) -> None:
    completed = _run_script("""
        import sys
        from qdevices import ChainedBellDevice
        from protocols.cli import main
        measure, calls = ChainedBellDevice.measure, [0]
        def dies_in_job_2(self, *args, **kwargs):
            calls[0] += 1
            if calls[0] == 2:
                raise KeyboardInterrupt
            return measure(self, *args, **kwargs)
        ChainedBellDevice.measure = dies_in_job_2
        sys.argv = ["bellbox", "qkd", "--rounds", "3000", "--settings", "3", "--seed", "1",
                    "--job-rounds", "1000", "--checkpoint", "run"]
        sys.exit(main())
    """, tmp_path)
    assert completed.returncode == 130, completed.stderr
    _one_line(completed.stderr, "interrupted", "bellbox qkd --resume run")


def test_closed_stdout_pipe_is_exit_3_not_0(tmp_path) -> None:
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first byte (as `| head -0` would be)
    try:
        completed = subprocess.run([sys.executable, "-c", "import sys; from protocols.cli import main; sys.exit(main())",
                                    "rate", "--settings", "7", "--threshold"],
                                   stdout=write, stderr=subprocess.PIPE, text=True, timeout=300)
    finally:
        os.close(write)
    assert completed.returncode == 3, completed.stderr


@pytest.mark.parametrize("extra, words", [
    (["--device", "local"], ["--records", "--device"]),
    (["--rounds", "1000"], ["--records", "--rounds"]),
    (["--gamma", "0.5", "--noise", "0.1"], ["--gamma", "--noise"]),
    (["--backend", "exact"], ["--backend"]),
    (["--settings", "7"], ["--settings"]),
    (["--checkpoint", "cp"], ["--checkpoint"]),
])
def test_options_ignored_with_records_are_refused(tmp_path, capsys, extra, words) -> None:
    records = tmp_path / "r.csv"
    records.write_text("# settings=2\n# i,j,x,y,a,b\n0,0,0,2,0,0\n")
    assert main(["qkd", "--records", str(records), *extra]) == 2
    _one_line(capsys.readouterr().err, *words)


def test_run_options_next_to_resume_are_refused(tmp_path, capsys) -> None:
    assert main(["qkd", "--resume", str(tmp_path), "--rounds", "5"]) == 2
    _one_line(capsys.readouterr().err, "--resume", "--rounds")


@pytest.mark.parametrize("option, value", [("--settings", "1000"), ("--rounds", "1e12")])
def test_limits_are_one_line_before_any_work(capsys, monkeypatch, option, value) -> None:
    monkeypatch.setattr(ChainedBellDevice, "__init__", lambda *a, **k: pytest.fail("device built"))
    assert main(["qkd", option, value]) == 2
    _one_line(capsys.readouterr().err, option, value if option == "--settings" else "1e+12")
