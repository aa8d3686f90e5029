"""One result vocabulary (protocols.results) and the public API's CLI defaults.

Seeds are fixed where a run is seeded; the unseeded runs use a local device, whose outcome
(abort) does not depend on the randomness. Expected values come from the CLI (a separate code
path: ``bellbox qkd`` / ``bellbox amplify --plan``) or are written out by hand.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import ClassVar

import numpy as np
import pytest

import extractors
import protocols
import qdevices
from protocols.cli import main
from protocols.results import RANDOMNESS_OS, RANDOMNESS_SEEDED, ProtocolResult, to_json_value
from qdevices import (ChainedBellDevice, FourPartyDevice, LocalChainedDevice, LocalFourPartyDevice,
                      Randomness, named_source)


def _strict(data: dict) -> dict:
    """Round trip through strict JSON (raises on NaN/Infinity or a non-JSON type)."""
    return json.loads(json.dumps(data, allow_nan=False))


def _cli_json(capsys, *arguments: str) -> dict:
    """The JSON report of ``bellbox ARGUMENTS --json`` (whatever the exit status)."""
    main([*arguments, "--json"])
    return json.loads(capsys.readouterr().out)


@dataclasses.dataclass(frozen=True)
class _Toy(ProtocolResult):
    SUCCESS_STATUS: ClassVar[str] = "done"
    PRIVATE_FIELDS: ClassVar[tuple[str, ...]] = ("secret",)
    status: str
    reason: str
    secure: bool
    value: float
    values: np.ndarray
    secret: bytes = b"k"


def test_to_json_value_is_strict_json() -> None:
    data = {"nan": np.float64("nan"), "list": [math.inf, -math.inf, 1.5], "array": np.arange(3),
            "int": np.int64(4), "tuple": (np.bool_(True), None), 7: "key"}
    assert to_json_value(data) == {"nan": None, "list": [None, None, 1.5], "array": [0, 1, 2],
                                   "int": 4, "tuple": [True, None], "7": "key"}
    assert _strict(to_json_value(data)) == to_json_value(data)


def test_base_gives_the_shared_names_and_hides_private_fields() -> None:
    done = _Toy("done", "", True, math.nan, np.array([np.inf, 2.0]))
    failed = _Toy("failed", "why", False, 1.0, np.array([1.0]))
    assert done.success and not failed.success and failed.message == "why"
    assert (done.randomness, failed.randomness) == ("os", "seeded (not secure)")
    data = _strict(done.to_dict())
    assert data == {"status": "done", "reason": "", "secure": True, "value": None, "values": [None, 2.0],
                    "success": True, "message": "", "randomness": "os",
                    "adversary_model": "no-signaling", "theorem": ""}


def test_diqkd_result_vocabulary() -> None:
    params = protocols.QKDParameters(rounds=20_000, gamma=0.5)
    seeded = protocols.run_diqkd(LocalChainedDevice.optimal(7, seed=1), params, Randomness(seed=1))
    unseeded = protocols.run_diqkd(LocalChainedDevice.optimal(7, seed=2), params)
    for result in (seeded, unseeded):
        assert result.status == "aborted" and not result.success  # a local box violates nothing
        assert result.message == result.reason and "W-bar" in result.message
        data = _strict(result.to_dict())
        assert "key_a" not in data and "key_b" not in data and "reproducible" not in data
        assert data["success"] is False and data["message"] == result.reason
        assert data["local_only"] == ["qber", "timings"]
    assert (seeded.randomness, seeded.seed) == (RANDOMNESS_SEEDED, 1)
    assert (unseeded.randomness, unseeded.seed) == (RANDOMNESS_OS, None)
    assert seeded.to_dict()["randomness"] == "seeded (not secure)"
    assert seeded.adversary_model == "no-signaling" and "Theorem 9" in seeded.to_dict()["theorem"]


def test_amplification_results_vocabulary() -> None:
    local = LocalFourPartyDevice(np.zeros((4, 2), dtype=np.uint8), seed=1)
    result = protocols.run_protocol1(local, named_source("iid-high", 0.01, Randomness(5)), 2000)
    assert result.status in ("aborted", "not certified") and not result.success
    assert result.message == result.reason != "" and result.sv_eps == 0.01
    data = _strict(result.to_dict())
    assert data["randomness"] == "seeded (not secure)" and data["sv_eps"] == 0.01
    assert data["success"] is False and data["message"] == result.reason
    assert data["adversary_model"] == "no-signaling" and "improved" in data["theorem"]
    paper = protocols.run_protocol1(local, named_source("iid-high", 0.01, Randomness(5)), 2000,
                                    certificate="paper")
    assert "Theorem 20" in paper.to_dict()["theorem"] and paper.adversary_model == "no-signaling"

    second = protocols.run_protocol2(local, LocalFourPartyDevice(np.zeros((4, 2), dtype=np.uint8), seed=2),
                                     named_source("uniform", 0.0, Randomness(6)), 100, 2)
    assert not second.success and second.message == second.reason != "" and second.sv_eps == 0.0
    data = _strict(second.to_dict())
    assert data["randomness"] == "seeded (not secure)" and data["success"] is False
    assert "improved Protocol II" in data["theorem"] and data["adversary_model"] == "no-signaling"
    paper2 = protocols.run_protocol2(local, LocalFourPartyDevice(np.zeros((4, 2), dtype=np.uint8), seed=2),
                                     named_source("uniform", 0.0, Randomness(6)), 100, 2, certificate="paper")
    assert "Theorem 27" in paper2.to_dict()["theorem"]


def test_certified_amplification_run_is_a_success() -> None:
    """Ideal device, eps = 0, error 0.5: certified at the planned n (seed 3)."""
    plan = protocols.plan_protocol1(1, sv_eps=0.0, error=0.5)
    result = protocols.run_protocol1(FourPartyDevice(0.0, seed=3), named_source("uniform", 0.0, Randomness(3)),
                                     plan.required_runs, error=0.5, output_bits=1)
    assert result.status == "certified" and result.success and result.message == ""
    data = _strict(result.to_dict())
    assert data["success"] is True and data["output_bits"] == 1 and "output" not in data


def test_qkd_parameters_gamma_auto_is_the_cli_gamma(capsys) -> None:
    for rounds in (50_000, 300_000):
        report = _cli_json(capsys, "qkd", "--rounds", str(rounds), "--device", "local", "--seed", "1")
        assert protocols.QKDParameters(rounds=rounds).gamma == report["gamma"]
    assert protocols.QKDParameters(rounds=10**6, gamma=0.887).gamma == 0.887  # explicit: unchanged


def test_qkd_parameters_reject_an_unknown_gamma_word() -> None:
    with pytest.raises(protocols.QKDInputError, match="gamma"):
        protocols.QKDParameters(rounds=1000, gamma="fast")
    with pytest.raises(protocols.QKDInputError, match="noise"):
        protocols.QKDParameters(rounds=1000, noise=1.5)


def test_plan_defaults_are_the_cli_defaults(capsys) -> None:
    """``protocols.plan_protocol1`` with defaults = ``bellbox amplify --plan`` with defaults, for
    every certificate chain the CLI offers (the CLI's default chain first)."""
    with pytest.raises(SystemExit):
        main(["amplify", "--help"])
    chains = [[]] + ([["--certificate", "paper"]] if "--certificate" in capsys.readouterr().out else [])
    for extra in chains:
        report = _cli_json(capsys, "amplify", "--plan", "--sv-eps", "1e-7", "--bits", "16", *extra)
        plan = protocols.plan_protocol1(16, sv_eps=1e-7, **({"certificate": "paper"} if extra else {}))
        assert plan.required_runs == report["required_runs"] and plan.error == 2.0**-40 == report["error"]
        assert plan.delta == report["delta"] == 0.0  # default delta at noise 0: 1.1 * 4 * 0 * ...
    with pytest.raises(ValueError, match="certificate"):
        protocols.plan_protocol1(16, sv_eps=1e-7, certificate="best")


def test_public_names_resolve() -> None:
    for module in (protocols, qdevices, extractors):
        assert module.__all__ and all(getattr(module, name) is not None for name in module.__all__)
    for name in ("run_diqkd", "distill_key", "QKDParameters", "load_records", "plan_protocol1",
                 "plan_protocol2", "run_protocol1", "run_protocol2", "certify_protocol1",
                 "lemma11_bound", "asymptotic_rate", "finite_key_length"):
        assert name in protocols.__all__
    assert {"named_source", "Randomness", "FourPartyDevice", "ChainedBellDevice"} <= set(qdevices.__all__)
    assert ChainedBellDevice is qdevices.ChainedBellDevice


def test_dead_code_is_gone() -> None:
    import extractors.two_source

    assert not hasattr(Randomness, "numpy_generator")
    assert not hasattr(extractors.two_source, "two_source_error")


def test_device_run_provenance_is_carried_by_the_result(capsys) -> None:
    """The result itself says where its rounds came from (issue 9 item 3), in the library and in
    the CLI report, without a callback."""
    params = protocols.QKDParameters(rounds=20_000)
    result = protocols.run_diqkd(ChainedBellDevice(settings=7, seed=5), params, qdevices.Randomness(seed=5))
    run = result.device_run
    assert run["execution"] == "exact" and run["hardware"] is False
    assert run["emulation"].startswith("emulation, not hardware")
    assert run["rounds"] == 20_000 and run["jobs"] >= 1 and run["checkpoint"] is None
    assert result.to_dict()["device_run"] == run
    assert main(["qkd", "--rounds", "20000", "--seed", "5", "--json"]) in (0, 3)
    report = json.loads(capsys.readouterr().out)
    assert report["device_run"]["execution"] == "exact" and report["device_run"]["rounds"] == 20_000
    assert "caveat" not in report  # exact emulation: no one-chip caveat
