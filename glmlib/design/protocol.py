"""The design interface: everything the solver asks of X, and nothing else.

The Newton solver (:mod:`glmlib.solver.newton`) never touches X. It asks a *design*
for products with X, the weighted Gram matrix and column statistics, and it
sends every sum (or maximum) over rows that it forms itself — losses, the
intercept's gradient, the size of a step in the linear predictor — through the
design's :meth:`Design.reduce`. That is the one hook that decides where rows
live:

* in-memory designs (dense NumPy/PyTorch/CuPy, scipy.sparse, torch sparse,
  pandas categoricals; :mod:`glmlib.design.dense`, :mod:`glmlib.design.sparse`,
  :mod:`glmlib.design.categorical`) hold all rows, so their reductions are the
  identity (:class:`AllRowsHere`);
* a sharded design (:class:`glmlib.distributed.ShardedDesign`) holds one
  process's rows, so its products over rows (``rmatvec``, ``gram``,
  ``column_range``) and :meth:`reduce` combine the processes' partial results
  with one ``all_reduce`` each, and every process then solves the same small
  problem.

Vectors passed in and returned are float64 arrays of the design's backend;
``matvec`` returns one value per local row, every other product is over all
rows the design stands for. How to add a design (one class with the methods
below; the solver is unchanged): :mod:`glmlib.design`.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol, runtime_checkable

__all__ = ["AllRowsHere", "Design", "ReduceOp"]

ReduceOp = Literal["sum", "max", "min"]


@runtime_checkable
class Design(Protocol):
    """What the solver needs of X (n local rows, p columns)."""

    n: int
    p: int
    dtype: Any
    is_sparse: bool
    #: Whether :meth:`rows` gives row samples (for sampled first Hessians).
    can_sample_rows: bool

    def matvec(self, beta: Any) -> Any:
        """X @ beta: the linear predictor of the local rows (float64)."""
        ...

    def rmatvec(self, v: Any) -> Any:
        """X.T @ v summed over all rows (float64 p-vector)."""
        ...

    def gram(self, d: Any, intercept: bool = True) -> Any:
        """[1, X].T diag(d) [1, X] over all rows (float64; without the 1 column if not intercept)."""
        ...

    def column_range(self) -> Any:
        """max - min of each column over all rows (host float64 p-vector)."""
        ...

    def subset(self, cols: Any) -> Any:
        """The design of X[:, cols] (a design of the same kind)."""
        ...

    def rows(self, idx: Any) -> Any:
        """The design of the local rows ``idx`` (only when ``can_sample_rows``)."""
        ...

    def reduce(self, value: Any, op: ReduceOp = "sum") -> Any:
        """Combine a per-row-set partial result (a sum or extreme over local rows) over all rows."""
        ...


class AllRowsHere:
    """Mixin for designs that hold every row: reductions over rows are the identity."""

    can_sample_rows = False

    def reduce(self, value: Any, op: ReduceOp = "sum") -> Any:
        """All rows are local, so the local partial result is the result."""
        return value

    def rows(self, idx: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} gives no row samples")
