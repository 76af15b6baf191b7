"""Thread limits for the benchmark scripts, applied before NumPy is imported.

OpenBLAS, OpenMP and numba read their thread counts when they load, so
``--threads N`` has to be turned into environment variables before the first
``import numpy``. This module imports nothing heavy, so scripts can call
:func:`apply_thread_limit` first thing.
"""

from __future__ import annotations

import os

VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def apply_thread_limit(argv: list[str]) -> str | None:
    """Set the thread-count variables from ``--threads N`` (or ``--threads=N``) in argv.

    ``--quick`` without ``--threads`` means one thread (a smoke test should
    not depend on how busy the machine's other cores are). Returns the value
    set, or None.
    """
    if "--quick" in argv and not any(a.startswith("--threads") for a in argv):
        argv = [*argv, "--threads", "1"]
    for i, arg in enumerate(argv):
        value = None
        if arg == "--threads" and i + 1 < len(argv):
            value = argv[i + 1]
        elif arg.startswith("--threads="):
            value = arg.split("=", 1)[1]
        if value is not None:
            for var in VARIABLES:
                os.environ[var] = value
            return value
    return None
