"""Single-threaded BLAS for the small p x p linear algebra of smoothness selection.

Multi-threaded BLAS buys nothing on matrices of a hundred rows and, on a busy
machine, its spinning threads can make each call a hundred times slower. The
passes over the data (X'WX) keep the library's thread pool.
"""

from __future__ import annotations

import functools
from typing import Any

from threadpoolctl import ThreadpoolController

__all__ = ["small_blas"]


@functools.cache
def _controller() -> ThreadpoolController:
    return ThreadpoolController()


def small_blas() -> Any:
    """Context manager limiting BLAS to one thread."""
    return _controller().limit(limits=1, user_api="blas")
