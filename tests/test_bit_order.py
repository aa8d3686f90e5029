"""One order for the parties' bits in integer codes (issue 9 item 8; :mod:`qdevices.devices`).

Party 1 is the most significant digit of a setting index and of an outcome code, as in
:func:`protocols.bell.four_party.to_index`. Every expected code here is written out by hand or
built with ``itertools.product`` (which lists tuples with the first entry slowest, i.e. in
party-1-most-significant order), never taken from the code under test. The boxes are
deterministic, so every check is exact: a reversed or permuted party order in any path (boxes,
the exact Aer table, the shot sampler, the four-party Bell functions) moves a 1 to another cell.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from protocols.bell.four_party import bell_indicator, bell_sum, to_index
from qdevices import LocalChainedDevice, LocalFourPartyDevice, TabulatedBox
from qdevices.circuits import NoiseComponent, basis_state, measurement_parameters, register_value_codes
from qdevices.devices import QuantumDevice, setting_grid
from qdevices.execution import CircuitFamily

FOUR_SETTINGS = np.array(list(itertools.product((0, 1), repeat=4)), dtype=np.int64)  # row s = u of index s
STRATEGIES = {  # party k outputs strategy[k, u_k]
    "copy, negate, one, zero": [[0, 1], [1, 0], [1, 1], [0, 0]],
    "only party 3 outputs 1": [[0, 0], [0, 0], [1, 1], [0, 0]],
    "only party 1 copies": [[0, 1], [0, 0], [0, 0], [0, 0]],
}


def test_index_and_code_of_written_out_cases() -> None:
    """Hand-written codes: party 1 alone is 8, party 3 alone is 2; chained (x, y) = (1, 0) is M + 1."""
    assert to_index(np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 1, 1]])).tolist() == [8, 2, 7]
    box = LocalFourPartyDevice(np.zeros((4, 2), np.uint8))
    assert box.setting_index(np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 1, 1]])).tolist() == [8, 2, 7]
    assert box.encode(np.array([[1, 0, 0, 0], [0, 0, 1, 0]])).tolist() == [8, 2]
    np.testing.assert_array_equal(box.decode(np.array([8, 2, 1])), [[1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
    np.testing.assert_array_equal(setting_grid((2, 2, 2, 2)), FOUR_SETTINGS)
    chained = LocalChainedDevice.optimal(3)
    assert chained.setting_index(np.array([[0, 0], [0, 3], [1, 0], [2, 3]])).tolist() == [0, 3, 4, 11]
    assert chained.encode(np.array([[1, 0], [0, 1]])).tolist() == [2, 1]  # code 2a + b
    # Qiskit's register value v has party 1 in bit 0: 3 clbits, v = 1 is party 1 alone, code 4
    assert register_value_codes(3).tolist() == [0, 4, 2, 6, 1, 5, 3, 7]


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_local_four_party_box_agrees_with_the_bell_functions(name: str) -> None:
    strategy = np.array(STRATEGIES[name], dtype=np.uint8)
    device = LocalFourPartyDevice(strategy, seed=1)
    expected = np.array([[strategy[k, u[k]] for k in range(4)] for u in FOUR_SETTINGS], dtype=np.uint8)
    np.testing.assert_array_equal(device.measure(FOUR_SETTINGS), expected)
    np.testing.assert_array_equal(device.setting_index(FOUR_SETTINGS), to_index(FOUR_SETTINGS))
    np.testing.assert_array_equal(device.encode(expected), to_index(expected))
    np.testing.assert_array_equal(device.decode(to_index(expected)), expected)
    cells = np.zeros((16, 16))
    cells[to_index(FOUR_SETTINGS), to_index(expected)] = 1.0
    np.testing.assert_array_equal(device.table, cells)
    # the table is P[u, x] of protocols.bell.four_party as it stands: same Bell sum as the runs
    assert bell_sum(device.table) == bell_indicator(expected, FOUR_SETTINGS).sum()


def test_local_chained_box_uses_the_mixed_radix_order() -> None:
    """Alice's ``x`` is the slow digit: row ``(M + 1) x + y``; outcome column ``2 a + b``."""
    alice, bob = np.array([1, 0, 0]), np.array([0, 0, 1, 1])
    device = LocalChainedDevice(alice, bob, seed=2)
    rows = np.array(list(itertools.product(range(3), range(4))))
    expected = np.stack([alice[rows[:, 0]], bob[rows[:, 1]]], axis=1)
    np.testing.assert_array_equal(device.measure(rows), expected)
    cells = np.zeros((12, 4))
    cells[4 * rows[:, 0] + rows[:, 1], 2 * expected[:, 0] + expected[:, 1]] = 1.0
    np.testing.assert_array_equal(device.table, cells)


def test_tabulated_box_with_only_party_3_outputting_one() -> None:
    """A table putting all weight on code 0b0010 gives column 3 (party 3) equal to 1, the rest 0."""
    table = np.zeros((16, 16))
    table[:, 0b0010] = 1.0

    class OnlyPartyThree(TabulatedBox):
        setting_counts = (2, 2, 2, 2)

    outputs = OnlyPartyThree(table, seed=3).measure(FOUR_SETTINGS)
    np.testing.assert_array_equal(outputs, np.tile([0, 0, 1, 0], (16, 1)))


class PartyThreeFlipped(QuantumDevice):
    """|0010> (X on qubit 2, party 3) measured by every party in Z, flipped by its setting:
    ``theta = pi u_k`` makes party k's outcome 1 when ``u_k = 1``, so ``x = u XOR (0, 0, 1, 0)``."""

    setting_counts = (2, 2, 2, 2)

    def __init__(self, backend: str) -> None:
        bases = setting_grid(self.setting_counts)
        family = CircuitFamily(components=(NoiseComponent(1.0, basis_state(0b0100, 4)),),
                               parameters=measurement_parameters(np.pi * bases, np.zeros(bases.shape)),
                               num_qubits=4)
        super().__init__(family, backend, seed=4)


def expected_flipped(settings: np.ndarray) -> np.ndarray:
    return (settings ^ np.array([0, 0, 1, 0])).astype(np.uint8)


def test_exact_aer_table_is_in_code_order() -> None:
    device = PartyThreeFlipped("exact")
    cells = np.zeros((16, 16))
    cells[to_index(FOUR_SETTINGS), to_index(expected_flipped(FOUR_SETTINGS))] = 1.0
    np.testing.assert_allclose(device.outcome_table(), cells, atol=1e-12)
    np.testing.assert_array_equal(device.measure(FOUR_SETTINGS), expected_flipped(FOUR_SETTINGS))


def test_shot_path_codes_and_columns_are_the_parties() -> None:
    """Aer shots: the codes per setting index (the sampler's output) and the measured columns."""
    device = PartyThreeFlipped("aer-shots")
    per_setting = device.execution.sample(device.family, np.full(16, 3), np.random.default_rng(5))
    expected_codes = to_index(expected_flipped(FOUR_SETTINGS))
    for setting, codes in enumerate(per_setting):
        np.testing.assert_array_equal(codes, np.full(3, expected_codes[setting]))
    settings = np.repeat(FOUR_SETTINGS, 2, axis=0)
    np.testing.assert_array_equal(device.measure(settings), expected_flipped(settings))


def test_fake_exact_table_peaks_at_the_expected_code() -> None:
    """Noisy model of a fake IBM backend: each setting's most likely code is the noiseless one."""
    pytest.importorskip("qiskit_ibm_runtime")
    table = PartyThreeFlipped("fake-exact:perth").outcome_table()
    np.testing.assert_array_equal(table.argmax(axis=1), to_index(expected_flipped(FOUR_SETTINGS)))
    assert table.max(axis=1).min() > 0.5
