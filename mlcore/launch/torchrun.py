"""torchrun, with an exit code that tells a restart policy whether to try again.

`python -m mlcore.launch.torchrun [torchrun options] -m package.train [overrides]` runs
`torch.distributed.run` unchanged, but where torchrun exits 1 for everything this exits 128 + the
signal when stopped by one (143: SIGTERM, preemption), the workers' code when each ended by a
signal, and 1 for a training error. So `restartPolicy: ExitCode` restarts a preempted job (which
resumes) and fails a broken one at once.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

# Exit codes from 128 up say "stopped by a signal": a restart may succeed.
RETRYABLE = 128


def main(argv: Sequence[str] | None = None) -> int:
    from torch.distributed.elastic.multiprocessing import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import main as torchrun

    try:
        torchrun(list(sys.argv[1:] if argv is None else argv))
    except SignalException as stopped:
        return RETRYABLE + int(stopped.sigval)
    except ChildFailedError as failed:
        return exit_code([failure.exitcode for failure in failed.failures.values()])
    return 0


def exit_code(worker_codes: Sequence[int]) -> int:
    """One code for the failed workers: theirs if every one was stopped by a signal, else 1.

    torch reports a worker killed by signal N as -N; one that handled it exits 128 + N.
    """
    codes = [RETRYABLE - code if code < 0 else code for code in worker_codes]
    if codes and all(code > RETRYABLE for code in codes):
        return codes[0]
    return 1


if __name__ == "__main__":
    sys.exit(main())
