"""DI-QKD on real IBM Quantum hardware, with a checkpoint so an interrupted run can resume.

The same code path as ``fake_backend_qkd.py``: the device's circuits go to
``qiskit_ibm_runtime``'s sampler inside a Batch, on the connected qubits with the lowest
readout + two-qubit error, and every finished job is checkpointed to --checkpoint DIR. If the
run stops (network failure, Ctrl-C), run the script again with the same arguments: finished
jobs are loaded, not re-run. Needs an IBM Quantum account saved with
``QiskitRuntimeService.save_account`` (or QISKIT_IBM_TOKEN); without one it exits with status 2
and one line saying so. The report is a demonstration, not a device-independent run: both
parties are measured on one chip.

Takes minutes to hours, depending on the queue (--rounds 200000 by default: about 2 jobs
of 1e5 shots per circuit). With --quick it only checks that an account is configured and that
the backend exists, and exits (status 2 without an account).

    python examples/ibm_hardware_qkd.py --backend ibm_brisbane [--rounds N] [--checkpoint DIR] [--quick]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from protocols.cli import main as bellbox


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="ibm_brisbane", help="IBM backend name")
    parser.add_argument("--rounds", type=int, default=200_000)
    parser.add_argument("--settings", type=int, default=3, help="M (small M keeps circuits few; 3 by default)")
    parser.add_argument("--checkpoint", type=Path, default=Path("ibm-qkd-checkpoint"))
    parser.add_argument("--quick", action="store_true", help="only check the account and backend")
    args = parser.parse_args()

    from qdevices.ibm import IBMAccountError, ibm_backend

    try:
        backend = ibm_backend(args.backend)
    except IBMAccountError as error:
        print(f"ibm_hardware_qkd: {error}", file=sys.stderr)
        return 2
    print(f"account configured; backend {backend.name} has {backend.num_qubits} qubits")
    if args.quick:
        return 0
    resume = ["--resume", str(args.checkpoint)] if (args.checkpoint / "manifest.json").exists() else [
        "--checkpoint", str(args.checkpoint), "--rounds", str(args.rounds), "--settings", str(args.settings),
        "--backend", f"ibm:{args.backend}"]
    return bellbox(["qkd", *resume, "--report", str(args.checkpoint.with_suffix(".json"))])


if __name__ == "__main__":
    sys.exit(main())
