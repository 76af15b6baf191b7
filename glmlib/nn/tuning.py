"""Hyperparameter tuning of the neural GLMs on a validation split.

:func:`validation_objective` turns an unfitted :class:`~glmlib.nn.NeuralGLM`
(or CANN, or :class:`~glmlib.nn.LocalGLMnet`) and a training/validation pair
into an objective for an optuna study: each trial draws hyperparameters from a
:class:`SearchSpace`, fits the estimator on the training part once per seed,
and returns the validation deviance averaged over the seeds,

.. math::

    \\bar D_{\\mathrm{val}}(\\theta) = \\frac{1}{S} \\sum_{s=1}^{S}
    \\frac{\\sum_{i \\in \\mathrm{val}} w_i\\, d\\big(y_i, \\hat\\mu_i^{(\\theta, s)}\\big)}
         {\\sum_{i \\in \\mathrm{val}} w_i},

with :math:`d` the family's unit deviance. The test data never enter: the
caller passes a validation part split off the training data, and compares
the tuned model with others on the test data afterwards.

:func:`make_study` creates the study with a seeded TPE (Bergstra et al.
2011) or random sampler, so that both searches are reproducible and can be
compared on the same budget. The objective itself needs no optuna: it only
calls ``trial.suggest_int`` and ``trial.suggest_float``, and
:meth:`ValidationObjective.evaluate` scores a given set of values directly.

References
----------
Bergstra, J., Bardenet, R., Bengio, Y. and Kégl, B. (2011). Algorithms for
hyper-parameter optimization. NeurIPS 24.
Bergstra, J. and Bengio, Y. (2012). Random search for hyper-parameter
optimization. JMLR 13, 281-305.
Akiba, T., Sano, S., Yanase, T., Ohta, T. and Koyama, M. (2019). Optuna: a
next-generation hyperparameter optimization framework. KDD 2019.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.base import clone

from ._base import _NeuralEstimator

__all__ = ["SearchSpace", "ValidationObjective", "make_study", "validation_objective"]


def _check_range(name: str, bounds: Any, *, integer: bool) -> tuple[Any, Any] | None:
    if bounds is None:
        return None
    kind = Integral if integer else Real
    try:
        low, high = bounds
    except (TypeError, ValueError):
        raise TypeError(
            f"SearchSpace.{name} must be None or a (low, high) pair, got {bounds!r}"
        ) from None
    for v in (low, high):
        if not isinstance(v, kind) or isinstance(v, bool):
            raise TypeError(
                f"SearchSpace.{name} bounds must be {'ints' if integer else 'real numbers'}, "
                f"got {bounds!r}"
            )
    if not (0 < low <= high) or not math.isfinite(high):
        raise ValueError(
            f"SearchSpace.{name} must satisfy 0 < low <= high < inf (searched on a log scale), "
            f"got {bounds!r}"
        )
    return (int(low), int(high)) if integer else (float(low), float(high))


@dataclass(frozen=True)
class SearchSpace:
    """The hyperparameters a trial draws, each log-uniform; None leaves one fixed.

    Parameters
    ----------
    width : (int, int) or None, default=(8, 128)
        Width of the first hidden layer. The other layers keep their ratio to
        it in the estimator's ``hidden_layer_sizes`` (rounded, at least 1):
        with ``(32, 16)`` a width of 64 gives ``(64, 32)``.
    learning_rate : (float, float) or None, default=(1e-4, 1e-2)
        AdamW's initial learning rate.
    weight_decay : (float, float) or None, default=None
        AdamW's decoupled weight decay.

    Examples
    --------
    >>> SearchSpace(width=(16, 64), weight_decay=(1e-6, 1e-2)).names
    ['width', 'learning_rate', 'weight_decay']
    """

    width: tuple[int, int] | None = (8, 128)
    learning_rate: tuple[float, float] | None = (1e-4, 1e-2)
    weight_decay: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "width", _check_range("width", self.width, integer=True))
        for name in ("learning_rate", "weight_decay"):
            object.__setattr__(self, name, _check_range(name, getattr(self, name), integer=False))
        if not self.names:
            raise ValueError("SearchSpace searches nothing: every range is None")

    @property
    def names(self) -> list[str]:
        """The searched hyperparameters, in the order a trial draws them."""
        return [n for n in ("width", "learning_rate", "weight_decay") if getattr(self, n)]

    def suggest(self, trial: Any) -> dict[str, Any]:
        """Draw one value of every searched hyperparameter from an optuna ``trial``."""
        values: dict[str, Any] = {}
        if self.width is not None:
            values["width"] = trial.suggest_int("width", *self.width, log=True)
        for name in ("learning_rate", "weight_decay"):
            bounds = getattr(self, name)
            if bounds is not None:
                values[name] = trial.suggest_float(name, *bounds, log=True)
        return values


def _scaled_sizes(sizes: Sequence[int], width: int) -> tuple[int, ...]:
    """``sizes`` with the first layer set to ``width`` and the others kept in proportion."""
    sizes = tuple(int(s) for s in sizes)
    if not sizes:
        raise ValueError(
            "the estimator has no hidden layer (hidden_layer_sizes=()): there is no width "
            "to tune; use SearchSpace(width=None)"
        )
    return tuple(max(1, round(s * width / sizes[0])) for s in sizes)


class ValidationObjective:
    """Validation deviance of an estimator under given hyperparameters (see :func:`validation_objective`).

    Calling it with an optuna trial draws the values from ``space``, records
    the deviance of each seed as the trial's user attribute ``"deviances"``
    and returns their mean.
    """

    def __init__(
        self,
        estimator: _NeuralEstimator,
        train: tuple[Any, np.ndarray, np.ndarray | None, np.ndarray | None],
        validation: tuple[Any, np.ndarray, np.ndarray | None, np.ndarray | None],
        space: SearchSpace,
        seeds: tuple[int, ...],
    ) -> None:
        self.estimator = estimator
        self.space = space
        self.seeds = seeds
        self._train = train
        self._validation = validation

    def params(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The estimator parameters (``set_params`` keywords) for values of the search space."""
        unknown = set(values) - {"width", "learning_rate", "weight_decay"}
        if unknown:
            raise ValueError(
                f"unknown hyperparameters {sorted(unknown)}; expected width, learning_rate, "
                "weight_decay"
            )
        out = {k: v for k, v in values.items() if k != "width"}
        if "width" in values:
            sizes = self.estimator._hidden_sizes()
            out["hidden_layer_sizes"] = _scaled_sizes(sizes, int(values["width"]))
        return out

    def estimator_for(self, values: Mapping[str, Any], random_state: Any = None) -> Any:
        """An unfitted clone of the estimator with these values (and ``random_state``)."""
        return clone(self.estimator).set_params(**self.params(values), random_state=random_state)

    def deviances(self, values: Mapping[str, Any]) -> list[float]:
        """Validation deviance (weighted mean unit deviance) of one fit per seed."""
        X, y, w, offset = self._train
        X_val, y_val, w_val, offset_val = self._validation
        out = []
        for seed in self.seeds:
            model = self.estimator_for(values, random_state=seed)
            model.fit(X, y, sample_weight=w, offset=offset)
            mu = model.predict(X_val, offset=offset_val)
            unit = np.asarray(model._family().unit_deviance(y_val, mu), dtype=np.float64)
            out.append(float(np.average(unit, weights=w_val)))
        return out

    def evaluate(self, values: Mapping[str, Any]) -> float:
        """Mean validation deviance over the seeds for the given values (no optuna needed)."""
        return float(np.mean(self.deviances(values)))

    def __call__(self, trial: Any) -> float:
        deviances = self.deviances(self.space.suggest(trial))
        trial.set_user_attr("deviances", deviances)
        return float(np.mean(deviances))


def validation_objective(
    estimator: Any,
    X: Any,
    y: Any,
    X_val: Any,
    y_val: Any,
    *,
    sample_weight: Any = None,
    offset: Any = None,
    sample_weight_val: Any = None,
    offset_val: Any = None,
    space: SearchSpace | None = None,
    seeds: Sequence[int] = (0, 1, 2),
) -> ValidationObjective:
    """An objective for optuna: mean validation deviance of ``estimator`` over seeds.

    Parameters
    ----------
    estimator : NeuralGLM or LocalGLMnet
        The template; every fit is a clone (unfitted) with the trial's
        values and ``random_state`` set to a seed, and the template itself is
        left as it is. Its own ``validation_fraction`` (early
        stopping) splits ``X`` further; ``X_val`` is never used for training.
    X, y : training part
        Passed to ``fit`` (DataFrames with ``category`` columns are fine).
    X_val, y_val : validation part
        Rows held out from ``X`` (never the test data), scored by the
        weighted mean unit deviance of the estimator's family.
    sample_weight, offset, sample_weight_val, offset_val : array-like, optional
        Weights and offsets (log exposure) of the two parts.
    space : SearchSpace, optional
        What a trial draws; default ``SearchSpace()`` (width and learning rate).
    seeds : sequence of int, default=(0, 1, 2)
        One fit per seed (the network's initialisation, split and shuffling):
        averaging smooths the seed-to-seed noise out of the comparison.

    Returns
    -------
    ValidationObjective
        ``objective(trial)`` returns the mean deviance (pass it to
        ``study.optimize``); ``objective.evaluate(values)`` scores given
        values; ``objective.estimator_for(values, random_state)`` gives the
        model to refit.

    Raises
    ------
    TypeError
        ``estimator`` is not a glmlib.nn estimator, or a seed is not an int.
    ValueError
        No seeds, duplicate seeds, or validation data
        whose length does not match.

    Examples
    --------
    >>> import numpy as np
    >>> from glmlib.nn import NeuralGLM, validation_objective
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 2))
    >>> y = rng.poisson(np.exp(0.3 * X[:, 0]))
    >>> objective = validation_objective(
    ...     NeuralGLM("poisson", hidden_layer_sizes=(8,), max_epochs=2, device="cpu"),
    ...     X[:200], y[:200], X[200:], y[200:], seeds=(0,))
    >>> round(objective.evaluate({"width": 4, "learning_rate": 1e-3}), 2) > 0
    True
    """
    if not isinstance(estimator, _NeuralEstimator):
        raise TypeError(
            "validation_objective tunes a glmlib.nn estimator (NeuralGLM, LocalGLMnet), "
            f"got {type(estimator).__name__}"
        )
    if space is None:
        space = SearchSpace()
    elif not isinstance(space, SearchSpace):
        raise TypeError(f"space must be a SearchSpace, got {type(space).__name__}")
    seeds = tuple(seeds)
    if not seeds:
        raise ValueError("seeds is empty: give at least one seed")
    if not all(isinstance(s, Integral) and not isinstance(s, bool) for s in seeds):
        raise TypeError(f"seeds must be ints, got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must differ (a repeated seed repeats the same fit), got {seeds!r}")
    n_val = len(X_val)
    if len(y_val) != n_val:
        raise ValueError(f"X_val has {n_val} rows but y_val has {len(y_val)}")
    if n_val == 0:
        raise ValueError("the validation part is empty")
    for name, v in (("sample_weight_val", sample_weight_val), ("offset_val", offset_val)):
        if v is not None and len(v) != n_val:
            raise ValueError(f"X_val has {n_val} rows but {name} has {len(v)}")
    estimator._check_params()
    if space.width is not None:
        _scaled_sizes(estimator._hidden_sizes(), 1)  # no hidden layer: nothing to widen
    w_val = None if sample_weight_val is None else np.asarray(sample_weight_val, dtype=np.float64)
    y_val = np.asarray(y_val, dtype=np.float64)
    return ValidationObjective(
        estimator,
        (X, y, sample_weight, offset),
        (X_val, y_val, w_val, offset_val),
        space,
        tuple(int(s) for s in seeds),
    )


def make_study(sampler: str = "tpe", *, seed: int = 0, n_startup_trials: int = 10) -> Any:
    """A minimising optuna study with a seeded ``"tpe"`` or ``"random"`` sampler.

    Parameters
    ----------
    sampler : {"tpe", "random"}
        Tree-structured Parzen estimator (after ``n_startup_trials`` random
        trials it proposes values where good trials are dense), or independent
        uniform draws on the (log) ranges.
    seed : int, default=0
        Seed of the sampler: the same seed gives the same sequence of values.
    n_startup_trials : int, default=10
        TPE's random trials before it models the results (ignored by "random").

    Returns
    -------
    optuna.Study
    """
    try:
        import optuna
    except ImportError as err:  # pragma: no cover - optuna is installed wherever tests run
        raise ImportError("make_study needs optuna: pip install 'glmlib[tune]'") from err
    if not isinstance(seed, Integral) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {seed!r}")
    if not isinstance(n_startup_trials, Integral) or n_startup_trials < 1:
        raise ValueError(f"n_startup_trials must be a positive int, got {n_startup_trials!r}")
    if sampler == "tpe":
        chosen: Any = optuna.samplers.TPESampler(
            seed=int(seed), n_startup_trials=int(n_startup_trials)
        )
    elif sampler == "random":
        chosen = optuna.samplers.RandomSampler(seed=int(seed))
    else:
        raise ValueError(f"sampler must be 'tpe' or 'random', got {sampler!r}")
    return optuna.create_study(direction="minimize", sampler=chosen)
