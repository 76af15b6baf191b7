"""Single-threaded BLAS for the small p x p linear algebra of smoothness selection.

Multi-threaded BLAS buys nothing on matrices of a hundred rows and, on a busy
machine, its spinning threads can make each call a hundred times slower. The
passes over the data (X'WX) keep the library's thread pool.
"""

from __future__ import annotations

from .._threads import small_blas

__all__ = ["small_blas"]
