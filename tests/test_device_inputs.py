"""Bad input to devices and to ``bellbox devices``: a ValueError subclass naming the parameter."""

from __future__ import annotations

import numpy as np
import pytest

from protocols.cli import main
from qdevices import ChainedBellDevice, DeviceInputError, FourPartyDevice, LocalChainedDevice


@pytest.mark.parametrize("settings", [1, 0, -3, 2.5])
def test_settings_below_two_rejected(settings) -> None:
    with pytest.raises(DeviceInputError, match=r"settings \(M\).*>= 2"):
        ChainedBellDevice(settings)


@pytest.mark.parametrize("noise", [-0.01, 1.5])
def test_noise_outside_unit_interval_rejected(noise: float) -> None:
    with pytest.raises(DeviceInputError, match=r"noise \(xi\) must be in \[0.0, 1.0\]"):
        ChainedBellDevice(3, noise)
    with pytest.raises(DeviceInputError, match=r"noise \(xi\)"):
        FourPartyDevice(noise)


def test_input_outside_setting_range_names_party_and_range() -> None:
    device = ChainedBellDevice(3)
    with pytest.raises(DeviceInputError, match=r"inputs\[:, 1\].*\[0, 3\], got 4"):
        device.measure(np.array([[0, 4]]))
    with pytest.raises(DeviceInputError, match=r"inputs\[:, 0\].*\[0, 2\], got -1"):
        device.measure(np.array([[-1, 0]]))


@pytest.mark.parametrize("inputs", [np.zeros((5, 3), int), np.zeros(5, int), np.zeros((2, 2), float)])
def test_wrong_shape_or_dtype_rejected(inputs) -> None:
    with pytest.raises(DeviceInputError, match="inputs must"):
        ChainedBellDevice(3).measure(inputs)


def test_errors_are_value_errors() -> None:
    assert issubclass(DeviceInputError, ValueError)


def test_unknown_backend_rejected() -> None:
    with pytest.raises(DeviceInputError, match="backend"):
        ChainedBellDevice(3, backend="quantum-magic")


def test_local_strategy_shape_checked() -> None:
    with pytest.raises(DeviceInputError, match="bob must be a 0/1 array of shape"):
        LocalChainedDevice([0, 1, 0], [0, 1])


@pytest.mark.parametrize(
    "argv",
    [
        ["devices", "--settings", "1"],
        ["devices", "--noise", "1.5"],
        ["devices", "--rounds", "0"],
        ["devices", "--backend", "nonsense"],
        ["devices", "--kind", "three-party"],
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(argv, capsys) -> None:
    with pytest.raises(SystemExit) as raised:
        status = main(argv)
        raise SystemExit(status)
    assert raised.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "error" in err


def test_cli_json_reports_bell_value(capsys) -> None:
    import json

    assert main(["devices", "--settings", "3", "--rounds", "20000", "--seed", "1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["rounds"] == 20000
    assert {"bell_value", "key_error_rate"} <= report.keys()
    ideal = np.sin(np.pi / 12) ** 2
    assert abs(report["bell_value"] - ideal) < 5 * np.sqrt(ideal / report["bell_rounds"])
