"""The solver core: one penalised Newton method for every family, link, backend and design.

Internal: nothing here is public API (that is ``glmlib.GLM``, ``glmlib.GLMCV``,
``glmlib.GAM`` and the rest of :mod:`glmlib`'s ``__all__``); estimators import
these modules directly, and this package imports nothing on its own.

Modules, in the order a fit uses them:

``choice``
    Which method fits a problem (:func:`~glmlib.solver.choice.choose_solver`:
    IRLS, proximal Newton with CD or FISTA, or L-BFGS), the elastic-net
    penalty it fits (:func:`~glmlib.solver.choice.elastic_net`) and
    :func:`~glmlib.solver.choice.solve`, which runs it: the one place
    ``GLM``, ``GLMCV``, ``glm_path`` and ``GAM`` decide these.
``problem``
    :class:`~glmlib.solver.problem.Problem` (data through a design, family,
    penalties, on one backend: loss, working weights, gradient, Gram matrix)
    and :class:`~glmlib.solver.problem.FitResult`.
``null``
    The intercept-only (null) model: closed form where the family allows it,
    else a one-coefficient Newton fit. Starting point and null deviance.
``newton``
    :func:`~glmlib.solver.newton.newton`: Fisher-scoring quadratic model,
    the optional ``between_iterations`` hook (the GAM's smoothness selection),
    the step (Cholesky, or an inner solver with an L1 part), the Armijo line
    search and the convergence test.
``inner``
    The inner solvers of an L1 step: coordinate descent with active sets
    (host, compiled) and FISTA (any backend, for GPUs).
``screening``
    :func:`~glmlib.solver.screening.screened_newton`: strong-rule screening
    with a KKT check around ``newton`` for L1 fits and paths.
``lbfgs``
    :func:`~glmlib.solver.lbfgs.fit_lbfgs`: L-BFGS-B, for problems whose Gram
    matrix would not fit.

The solver never touches X: it asks a design (:mod:`glmlib.design`). The
dense linear algebra (factorisations with an eigen fallback) sits one layer
below, in ``glmlib._linalg``, beside the array backends of ``glmlib._backend``
that forward to it. Tests: ``tests/solver/``.
"""
