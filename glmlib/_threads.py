"""The BLAS thread pool as threadpoolctl sees it: how many threads, and a one-thread limit.

Some passes over the data have two implementations: BLAS products over row
blocks, which use BLAS's threads, and one compiled loop over the rows, which
runs on one thread but reads X once. :func:`blas_threads` tells which to take.
"""

from __future__ import annotations

import functools
from typing import Any

from threadpoolctl import ThreadpoolController

__all__ = ["blas_threads", "small_blas"]


@functools.cache
def _controller() -> ThreadpoolController:
    # Inspecting the loaded libraries takes a few ms: once per process.
    return ThreadpoolController()


def blas_threads() -> int:
    """The number of threads the loaded BLAS libraries use now (the largest; 1 when none is found).

    About 20 microseconds a call: each library is asked for its current setting,
    so ``threadpool_limits`` blocks are seen.
    """
    counts = [int(lib["num_threads"]) for lib in _controller().select(user_api="blas").info()]
    return max(counts, default=1)


def small_blas() -> Any:
    """Context manager limiting BLAS to one thread."""
    return _controller().limit(limits=1, user_api="blas")
