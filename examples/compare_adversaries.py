"""Adversary models and protocols compared on fake IBM backends (issue 11, item 5).

For each backend the device statistics are read once from its exact noisy outcome table
(``fake-exact:NAME``: the density-matrix table of the backend's noise model, no sampling):

* chained protocol (paper 000 Sec. III A) with M settings: W-bar, the mean of P(W = 1 | x, y)
  over the 2M pairs of the estimation support (eqs. (4)-(5), (13)), and the QBER
  P(a != b | x = 0, y = M) of the key pair;
* CHSH protocol (the chained device with M = 2): winning probability w = 1 - W-bar(M = 2)
  (a round is won when W = 0; the four test pairs are the whole M = 2 support), S = 8 w - 4,
  and the QBER of the key pair (x, y) = (0, 2).

From these it prints, per backend, for chained M = 7, chained at each model's best M (the M in
2..``--max-settings`` with the largest asymptotic rate in that model; a row only when it is not 7)
and CHSH, in each adversary model the protocol supports: the asymptotic rate, the expected key length at N in
{1e6, 1e7, 1e8} and about the fewest rounds for a key (``None`` when the asymptotic rate is 0,
i.e. the statistics are above the model's threshold). These are the library's observed-statistics
functions (as ``bellbox rate ... --bell-value W --qber Q`` and ``--chsh S --qber Q``):

* chained, no-signaling: :func:`protocols.qkd.quantum_keyrate.key_length_from_statistics`
  with ``adversary="no-signaling"``, paper 000 eq. (17) (Theorem 9), min over theta;
* chained, quantum: the same function with ``adversary="quantum"``, N_s^Q of
  docs/quantum_chained_key.md (paper 000 Appendix A, Lemma 10);
* CHSH, quantum: :func:`protocols.qkd.chsh_keyrate.key_from_statistics`, entropy accumulation
  (Dupuis-Fawzi-Renner 2020 Thm 4.4 with the Pironio et al. 2009 bound).

They are *expectations* (planned counts, Shannon-limit leak, thresholds at the observed values),
not certificates of a run. Then one actual run per backend: :func:`protocols.run_diqkd`, chained
M = 7, quantum adversary, N = 1e6 rounds (2e5 with ``--quick``), gamma fixed before the run from
the table's statistics; its key length is certified by N_s^Q for the rounds actually drawn.

Every number is labelled with its adversary model and a short theorem name; the legend printed
below the tables gives the library's full statement and device assumption for each.
No backend is hardware: ``fake-exact`` emulates the noise model of a fake IBM backend; ``exact``
(the ideal EPR pair, W-bar = sin^2(pi/4M) of eq. (7), S = 2 sqrt 2) is printed first as a reference.
Backends: exact, fake-exact:marrakesh, fake-exact:perth, fake-exact:sherbrooke (quick: the first two).

    python examples/compare_adversaries.py [--quick] [--seed S] [--json FILE]

``--seed S`` makes the device sampling and the protocol randomness reproducible; the run is
then marked not secure (``randomness: seeded (not secure)``). Full mode takes about 10 s,
``--quick`` (the ideal ``exact`` device as a reference and fake-exact:marrakesh, N = 2e5 run) about 7 s.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from protocols import QKDParameters, run_diqkd
from protocols.bell.chained import bell_indicator, in_estimation_support
from protocols.qkd.chsh_keyrate import (DEVICE_ASSUMPTION as CHSH_ASSUMPTION, THEOREM as CHSH_THEOREM,
                                        SECOND_ORDER_THEOREM as CHSH_SECOND_ORDER_THEOREM,
                                        asymptotic_rate as chsh_asymptotic_rate, chsh_value, key_from_statistics,
                                        minimum_rounds)
from protocols.qkd.protocol import THEOREMS as CHAINED_THEOREMS
from protocols.qkd.quantum_keyrate import (ADVERSARIES, ASSUMPTIONS as QUANTUM_ASSUMPTIONS,
                                           NO_SIGNALING_ASSUMPTIONS, key_length_from_statistics,
                                           rate_from_statistics, rounds_for_key_from_statistics)
from protocols.qkd.reconciliation import tag_length
from qdevices import ChainedBellDevice, Randomness
from qdevices.backends import make_execution
from qdevices.devices import setting_grid, setting_index_of

FULL_BACKENDS = ("exact", "fake-exact:marrakesh", "fake-exact:perth", "fake-exact:sherbrooke")
QUICK_BACKENDS = ("exact", "fake-exact:marrakesh")
KEY_ROUNDS = (10**6, 10**7, 10**8)
FULL_RUN_ROUNDS, QUICK_RUN_ROUNDS = 10**6, 2 * 10**5
RUN_SETTINGS = 7
#: Secrecy parameter of every key length here (chained: L1 convention of paper 000 eq. (59),
#: plus 2 eps_erco for correctness; CHSH: trace distance, split by the planner).
EPS = 1e-9
EPS_ERCO = 1e-10

#: Short theorem names printed in the tables; the legend gives the library's full statements.
SHORT_THEOREMS = {
    ("chained", "no-signaling"): "P000 Thm 9 eq.(17)",
    ("chained", "quantum"): "P000 App.A Lemma 10 (N_s^Q)",
    ("chsh", "quantum"): "EAT (DFR20 Thm 4.4 or 2nd-order Liu21 Thm 3) + Pironio09",
}
FULL_THEOREMS = {
    ("chained", "no-signaling"): (CHAINED_THEOREMS["no-signaling"], NO_SIGNALING_ASSUMPTIONS),
    ("chained", "quantum"): (CHAINED_THEOREMS["quantum"], QUANTUM_ASSUMPTIONS),
    ("chsh", "quantum"): (f"the larger certified key of {CHSH_THEOREM} and of {CHSH_SECOND_ORDER_THEOREM}",
                          CHSH_ASSUMPTION),
}


@dataclass(frozen=True)
class ChainedStatistics:
    """Exact W-bar (eq. (13) in expectation) and key-pair QBER of a chained device with M settings."""

    settings: int
    bell_value: float
    qber: float


def exact_statistics(device: ChainedBellDevice) -> ChainedStatistics:
    """W-bar = (1/2M) sum over the support of P(W = 1 | x, y) and QBER = P(a != b | 0, M), from
    the device's exact table ``P[setting index, outcome code]``."""
    table = device.outcome_table()
    m = device.settings
    grid = setting_grid(device.setting_counts)  # rows in setting-index order, as the table's
    bits = device.decode(np.arange(table.shape[1]))  # outcome code -> (a, b)
    a, b = bits[None, :, 0], bits[None, :, 1]
    w_values = bell_indicator(a, b, grid[:, :1], grid[:, 1:], m)  # W per (setting, outcome)
    support = in_estimation_support(grid[:, 0], grid[:, 1], m)
    bell_value = float((table * w_values)[support].sum(axis=1).mean())
    key_pair = setting_index_of(np.array([[0, m]]), device.setting_counts)[0]
    qber = float(table[key_pair] @ (bits[:, 0] != bits[:, 1]))
    return ChainedStatistics(m, bell_value, qber)


def chained_row(stats: ChainedStatistics, adversary: str, label: str) -> dict[str, Any]:
    """Rate, expected keys and rounds for a key of the chained protocol in one adversary model."""
    common = dict(settings=stats.settings, bell_value=stats.bell_value, error_rate=stats.qber)
    rate = rate_from_statistics(**common, adversary=adversary)
    keys = {str(n): key_length_from_statistics(**common, rounds=n, eps=EPS, adversary=adversary).bits
            for n in KEY_ROUNDS}
    needed = None if rate.rate <= 0.0 else rounds_for_key_from_statistics(**common, eps=EPS, adversary=adversary)
    return dict(protocol="chained", label=label, settings=stats.settings, adversary_model=adversary, statistic="W-bar",
                value=stats.bell_value, qber=stats.qber, rate=rate.rate, rate_gamma=rate.gamma, key_length=keys,
                rounds_for_key=needed, theorem=SHORT_THEOREMS[("chained", adversary)])


def chsh_row(stats: ChainedStatistics) -> dict[str, Any]:
    """The CHSH protocol's rate, expected keys and rounds for a key (quantum adversary only)."""
    winning = 1.0 - stats.bell_value
    tag = tag_length(EPS_ERCO)
    rate = chsh_asymptotic_rate(winning=winning, qber=stats.qber)

    def plan_at(rounds: int):
        return key_from_statistics(rounds=rounds, winning=winning, qber=stats.qber, eps=EPS, tag_bits=tag)

    def key_at(rounds: int) -> int:
        return plan_at(rounds).bits

    plans = {str(n): plan_at(n) for n in KEY_ROUNDS}
    return dict(protocol="chsh", label="CHSH", settings=2, adversary_model="quantum", statistic="S",
                value=float(chsh_value(winning)), qber=stats.qber, rate=rate.rate, rate_gamma=0.0,
                key_length={n: plan.bits for n, plan in plans.items()},
                theorem_by_rounds={n: plan.key.theorem for n, plan in plans.items()},
                rounds_for_key=None if rate.rate <= 0.0 else minimum_rounds(key_at),
                clamped=rate.clamped, theorem=SHORT_THEOREMS[("chsh", "quantum")])


def compare_backend(backend: str, max_settings: int, run_rounds: int, seed: int | None) -> dict[str, Any]:
    """Statistics for M = 2..max_settings from one execution, the table rows and one run."""
    execution = make_execution(backend)
    devices = {m: ChainedBellDevice(m, backend=execution, seed=seed) for m in range(2, max_settings + 1)}
    stats = {m: exact_statistics(device) for m, device in devices.items()}
    rates = {adversary: {m: rate_from_statistics(settings=m, bell_value=s.bell_value, error_rate=s.qber,
                                                 adversary=adversary).rate for m, s in stats.items()}
             for adversary in ADVERSARIES}
    best = {adversary: max(by_m, key=lambda m: (by_m[m], -abs(m - RUN_SETTINGS))) for adversary, by_m in rates.items()}
    rows = [chained_row(stats[RUN_SETTINGS], adversary, f"chained M={RUN_SETTINGS}") for adversary in ADVERSARIES]
    rows += [chained_row(stats[m], adversary, f"chained best M={m}") for adversary, m in best.items()
             if m != RUN_SETTINGS]
    rows.append(chsh_row(stats[2]))
    return {
        "backend": backend,
        "device": devices[RUN_SETTINGS].describe(),
        "statistics": {str(m): asdict(s) for m, s in stats.items()},
        "rate_by_settings": {adversary: {str(m): r for m, r in by_m.items()} for adversary, by_m in rates.items()},
        "best_settings": best,
        "rows": rows,
        "run": run_chained(devices[RUN_SETTINGS], stats[RUN_SETTINGS], run_rounds, seed),
    }


def run_chained(device: ChainedBellDevice, stats: ChainedStatistics, rounds: int, seed: int | None) -> dict:
    """``run_diqkd`` against a quantum adversary; gamma maximises the expected N_s^Q for the
    table's statistics (public and fixed before the run; it affects efficiency only)."""
    gamma = key_length_from_statistics(settings=stats.settings, bell_value=stats.bell_value,
                                       error_rate=stats.qber, rounds=rounds, eps=EPS, adversary="quantum").gamma
    params = QKDParameters(rounds=rounds, settings=stats.settings, gamma=gamma, eps=EPS, eps_erco=EPS_ERCO,
                           adversary="quantum")
    result = run_diqkd(device, params, Randomness(seed=seed))
    if result.success and result.key_a != result.key_b:
        raise RuntimeError("Alice's and Bob's keys differ after a successful run")
    return result.to_dict()


def _rounds(value: int | None) -> str:
    return "None" if value is None else f"{value:.3g}"


def print_backend(report: dict[str, Any]) -> None:
    best = ", ".join(f"{adversary} M={m}" for adversary, m in report["best_settings"].items())
    print(f"\n== {report['backend']}  (statistics from the exact outcome table; chained M with the largest "
          f"asymptotic rate in 2..{max(map(int, report['statistics']))}: {best})")
    keys = "  ".join(f"{'key@' + f'{n:.0e}'.replace('+0', ''):>10}" for n in KEY_ROUNDS)
    print(f"{'protocol':<19} {'adversary':<13} {'stat':>14} {'QBER':>7} {'rate/round':>11}  {keys} "
          f"{'N for key':>10}  theorem")
    for row in report["rows"]:
        stat = f"{row['statistic']}={row['value']:.5f}" if row["statistic"] == "W-bar" else f"S={row['value']:.4f}"
        lengths = "  ".join(f"{row['key_length'][str(n)]:>10,}" for n in KEY_ROUNDS)
        print(f"{row['label']:<19} {row['adversary_model']:<13} {stat:>14} {row['qber']:7.4f} {row['rate']:11.4g}  "
              f"{lengths} {_rounds(row['rounds_for_key']):>10}  {row['theorem']}"
              + ("  [beyond quantum: clamped]" if row.get("clamped") else ""))
    run = report["run"]
    outcome = (f"key of {run['key_length']:,} bits" if run["status"] == "key" else f"aborted: {run['reason']}")
    print(f"run: run_diqkd chained M={run['settings']} N={run['rounds']:,} gamma={run['gamma']:.4f} "
          f"adversary {run['adversary_model']} ({SHORT_THEOREMS[('chained', 'quantum')]}): W-bar={run['bell_value']:.5f}, "
          f"{outcome}, eps + 2 eps_erco = {run['total_eps']:.3g}, randomness {run['randomness']}")


def print_legend() -> None:
    print("\nKey lengths in the tables are expectations for the statistics shown (planned counts, Shannon-limit "
          "leak); 'N for key' is about the fewest rounds with an expected key (None: asymptotic rate 0, above the "
          "model's threshold). The run's key is certified for the rounds it drew.")
    print(f"Secrecy eps = {EPS:g} in every row: chained, L1 convention of paper 000 eq. (59), correctness "
          f"2 eps_erco = {2 * EPS_ERCO:g} on top (eq. (68)); CHSH, trace distance split by the planner, "
          f"correctness eps_erco = {EPS_ERCO:g} on top.")
    for (protocol, adversary), (theorem, assumption) in FULL_THEOREMS.items():
        print(f"  {SHORT_THEOREMS[(protocol, adversary)]} [{protocol}, {adversary} adversary]: {theorem}. "
              f"Assumes: {assumption}.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"backends {', '.join(QUICK_BACKENDS)}, run of {QUICK_RUN_ROUNDS:.0e} rounds (for CI)")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed of device sampling and protocol randomness (reproducible, not secure)")
    parser.add_argument("--max-settings", type=int, default=10, dest="max_settings",
                        help="largest M tried for the best chained M (default 10)")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE", help="write the full report here")
    args = parser.parse_args()
    if args.max_settings < RUN_SETTINGS:
        parser.error(f"--max-settings must be an integer >= {RUN_SETTINGS}, got {args.max_settings}")
    backends, run_rounds = (QUICK_BACKENDS, QUICK_RUN_ROUNDS) if args.quick else (FULL_BACKENDS, FULL_RUN_ROUNDS)
    reports = []
    for backend in backends:
        reports.append(compare_backend(backend, args.max_settings, run_rounds, args.seed))
        print_backend(reports[-1])
    print_legend()
    if args.json is not None:
        payload = {"eps": EPS, "eps_erco": EPS_ERCO, "key_rounds": list(KEY_ROUNDS), "seed": args.seed,
                   "key_lengths_are_expectations": True,
                   "theorems": {f"{p}/{a}": {"short": SHORT_THEOREMS[(p, a)], "theorem": t, "assumptions": s}
                                for (p, a), (t, s) in FULL_THEOREMS.items()},
                   "backends": reports}
        args.json.write_text(json.dumps(payload, indent=2, default=str))


if __name__ == "__main__":
    main()
