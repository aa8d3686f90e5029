"""Device throughput (issue: foundation).

* Exact mode: rounds per second of ``ChainedBellDevice(M=7).measure`` on 10^7 random rounds,
  against a plain numpy sampler of the same Born-rule table measured in the same run
  (per-round inverse-CDF lookup by comparisons). Target: >= 0.5x the plain sampler.
* Shot mode on Aer: ``measure`` with ``backend="aer-shots"`` against calling Aer's ``SamplerV2``
  directly on the same transpiled circuits with the same number of shots. Target: within 1.5x.
"""

from __future__ import annotations

import time

import numpy as np

ROUNDS = 10**7
SHOT_ROUNDS = 10**6


def _best_of(repeats: int, call) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


def plain_numpy_sampler(table: np.ndarray, setting: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Baseline: cumulative table gathered per round, outcome = number of thresholds below u."""
    cumulative = np.cumsum(table, axis=1)
    u = rng.random(setting.shape[0])
    thresholds = cumulative[setting]
    return (u[:, None] >= thresholds[:, :-1]).sum(axis=1)


def exact_mode() -> None:
    from qdevices import ChainedBellDevice

    device = ChainedBellDevice(7, 0.01, seed=1)
    table = device.outcome_table()
    rng = np.random.default_rng(2)
    inputs = np.stack([rng.integers(0, 7, ROUNDS), rng.integers(0, 8, ROUNDS)], axis=1)
    setting = device.setting_index(inputs)
    ours = _best_of(3, lambda: device.measure(inputs))
    plain = _best_of(3, lambda: plain_numpy_sampler(table, setting, rng))
    print(f"exact mode, M=7, {ROUNDS:.0e} rounds: measure {ROUNDS / ours / 1e6:.1f} M rounds/s, "
          f"plain numpy sampler {ROUNDS / plain / 1e6:.1f} M rounds/s, ratio {plain / ours:.2f}x (target >= 0.5x)")


def shot_mode() -> None:
    from qdevices import ChainedBellDevice

    device = ChainedBellDevice(7, 0.0, backend="aer-shots", seed=3)
    rng = np.random.default_rng(4)
    inputs = np.stack([rng.integers(0, 7, SHOT_ROUNDS), rng.integers(0, 8, SHOT_ROUNDS)], axis=1)
    device.measure(inputs[:1000])  # transpile once, outside the timing
    ours = _best_of(2, lambda: device.measure(inputs))
    counts = np.bincount(device.setting_index(inputs), minlength=device.num_settings)
    execution = device.execution
    (circuit, order), = execution._circuits(device.family)
    direct_pub = [(circuit, device.family.parameters[:, order], int(counts.max()))]
    direct = _best_of(2, lambda: execution.sampler.run(direct_pub).result())
    print(f"shot mode (aer-shots), M=7, {SHOT_ROUNDS:.0e} rounds: measure {ours:.2f} s, "
          f"Aer SamplerV2 directly on the same PUB {direct:.2f} s, ratio {ours / direct:.2f}x (target <= 1.5x)")


def run() -> None:
    exact_mode()
    shot_mode()
