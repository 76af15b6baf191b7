"""Which solver fits a problem, and the penalty it fits: decided in one place.

``GLM``, ``GLMCV``, ``glm_path`` (and so the classifiers built on them) and
``GAM`` name a solver (``"auto"``, ``"irls"``, ``"prox-newton"`` or
``"lbfgs"``). :func:`choose_solver` turns that name, the problem's size, its
L1 part and the device into a :class:`SolverChoice`; :func:`elastic_net`
sets a problem's penalty from ``(alpha, l1_ratio, penalty_factor)``; and
:func:`solve` runs the chosen method. No estimator repeats these rules.

The rules:

* ``"auto"`` is L-BFGS when the Gram matrix would have more than
  :data:`GRAM_LIMIT` rows (one p x p matrix per iteration would not pay, or
  not fit), else Newton: IRLS for smooth penalties, proximal Newton when
  there is an L1 part.
* The inner solver of a proximal Newton step is coordinate descent on the
  host and FISTA on an accelerator (whose strength is the batched matrix
  products FISTA is made of, not CD's sequential column updates).
* ``"irls"`` cannot fit an L1 penalty and says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from .lbfgs import fit_lbfgs
from .newton import newton
from .problem import FitResult, Problem

__all__ = [
    "GRAM_LIMIT",
    "SOLVERS",
    "SolverChoice",
    "check_solver",
    "choose_solver",
    "elastic_net",
    "solve",
]

#: The solver names estimators accept.
SOLVERS = ("auto", "irls", "prox-newton", "lbfgs")

#: Largest Gram matrix (intercept included) that ``"auto"`` forms; above it, L-BFGS.
#: Also the largest for which a fit keeps the p x p Fisher matrix for inference.
GRAM_LIMIT = 4000

# L-BFGS takes many cheap iterations: an estimator's max_iter (sized for
# Newton's few) is raised to at least this for it.
_LBFGS_MIN_ITER = 1000


@dataclass(frozen=True)
class SolverChoice:
    """The method that fits a problem.

    Attributes
    ----------
    method : {"irls", "prox-newton", "lbfgs"}
        IRLS (Newton with Fisher scoring, Cholesky step), proximal Newton (an
        inner solver for the L1 part) or L-BFGS.
    inner : {"cd", "fista"}
        The inner solver of a proximal Newton step (ignored by the others).
    """

    method: Literal["irls", "prox-newton", "lbfgs"]
    inner: Literal["cd", "fista"]

    @property
    def uses_gram(self) -> bool:
        """Whether the method forms the p x p Gram matrix (Newton does, L-BFGS does not)."""
        return self.method != "lbfgs"


def check_solver(solver: object) -> str:
    """Validate a solver name; raise ValueError naming the choices otherwise."""
    if not isinstance(solver, str) or solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    return solver


def choose_solver(solver: str, *, n_params: int, has_l1: bool, device: str) -> SolverChoice:
    """The method for a problem with ``n_params`` coefficients (intercept included).

    Parameters
    ----------
    solver : {"auto", "irls", "prox-newton", "lbfgs"}
        The estimator's ``solver`` parameter.
    n_params : int
        Rows of the Gram matrix: coefficients plus the intercept.
    has_l1 : bool
        Whether any coefficient carries an L1 penalty (at any point of a path).
    device : str
        The device of the data (``"cpu"`` or an accelerator's name).

    Returns
    -------
    SolverChoice

    Raises
    ------
    ValueError
        For an unknown name, or ``"irls"`` with an L1 penalty.
    """
    check_solver(solver)
    if solver == "auto":
        if n_params > GRAM_LIMIT:
            solver = "lbfgs"
        else:
            solver = "prox-newton" if has_l1 else "irls"
    if solver == "irls" and has_l1:
        raise ValueError("solver='irls' cannot fit an L1 penalty; use 'prox-newton' or 'auto'")
    inner: Literal["cd", "fista"] = "cd" if device == "cpu" else "fista"
    method: Literal["irls", "prox-newton", "lbfgs"] = solver  # type: ignore[assignment]
    return SolverChoice(method=method, inner=inner)


def elastic_net(prob: Problem, alpha: float, l1_ratio: float, penalty_factor: Any) -> Problem:
    """``prob`` with the elastic-net penalty alpha * (l1_ratio |b|_1 + (1 - l1_ratio)/2 |b|^2).

    ``penalty_factor`` (length p, host or backend array) scales each
    coefficient's penalty; the intercept is never penalised.
    """
    pf = prob.backend.asarray(penalty_factor, dtype=np.float64)
    return prob.with_penalties(alpha * l1_ratio * pf, alpha * (1.0 - l1_ratio) * pf)


def solve(
    prob: Problem,
    theta: Any,
    choice: SolverChoice,
    *,
    tol: float,
    max_iter: int,
    **newton_options: Any,
) -> FitResult:
    """Minimise ``prob`` from ``theta`` (intercept first, all p coefficients) by ``choice``.

    ``newton_options`` go to :func:`glmlib.solver.newton.newton` (warm
    starts, the GAM's ``between_iterations`` hook, ...) and are ignored by
    L-BFGS, which needs none of them.
    """
    if choice.method == "lbfgs":
        return fit_lbfgs(prob, theta, tol=tol, max_iter=max(max_iter, _LBFGS_MIN_ITER))
    return newton(
        prob, theta, None, tol=tol, max_iter=max_iter, inner=choice.inner, **newton_options
    )
