"""What the neural estimators share: validation, fitting through the training loop, prediction,
saving and loading.

A subclass says how to build its network (:meth:`_NeuralEstimator._build_module`),
which arrays it reads (:meth:`_inputs`), where training starts
(:meth:`_start`), which fixed linear predictor it adds (:meth:`_fixed_eta`, the
GLM of a CANN) and which weights the elastic-net penalty acts on
(:meth:`_penalised`). Everything else, including the one call to
:func:`glmlib.nn.train`, is here.
"""

from __future__ import annotations

import copy
import math
import pickle
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, column_or_1d
from torch import nn
from torch.utils.data import TensorDataset

from .._backend import resolve_device, to_numpy
from .._validation import (
    _is_device_array,
    check_sample_weight,
    validate_vector,
    validate_X,
)
from ..families import Family, get_family
from ..links import Link
from ._tabular import TabularEncoder
from .layers import ACTIVATIONS, init_weights
from .loss import GLMLoss
from .penalty import ElasticNetProx
from .training import SCHEDULES, TrainConfig, TrainResult, train

__all__: list[str] = []

_FORMAT = "glmlib.nn/1"
_PREDICT_BATCH = 65536


def _tensor(a: np.ndarray, float_dtype: torch.dtype) -> torch.Tensor:
    """int64 for integer arrays (categorical codes), ``float_dtype`` otherwise."""
    return torch.as_tensor(a, dtype=torch.int64 if a.dtype.kind in "iu" else float_dtype)


def _float64_copy(module: nn.Module) -> nn.Module:
    """A float64 copy on the CPU, in eval mode: prediction in double precision."""
    return copy.deepcopy(module).cpu().double().eval()


def null_eta(family: Family, y: np.ndarray, w: np.ndarray, offset: np.ndarray) -> float:
    """Intercept of the intercept-only model: g(weighted mean of y) - weighted mean offset.

    Exact without an offset, and under the log link with one
    (log(sum w y / sum w exp(offset))); R's starting value otherwise. The mean
    is kept inside the family's range (all-zero counts, all-0 or all-1 binomial).
    """
    link = family.link
    if link.name == "log" and np.any(offset != 0):
        mean = float(np.sum(w * y) / np.sum(w * np.exp(offset)))
        shift = 0.0
    else:
        mean = float(np.sum(w * y) / np.sum(w))
        shift = float(np.sum(w * offset) / np.sum(w))
    if family.name == "binomial":
        mean = min(max(mean, 1e-6), 1 - 1e-6)
    elif family.positive_mean or link.name != "identity":
        mean = max(mean, 1e-6)
    b0 = float(to_numpy(link.link(np.array([mean])))[0]) - shift
    return b0 if math.isfinite(b0) else 0.0


def default_embedding_dim(n_levels: int) -> int:
    """min(10, ceil(levels / 2)): one dimension per two levels, at most 10."""
    return max(1, min(10, (n_levels + 1) // 2))


class _NeuralEstimator(RegressorMixin, BaseEstimator):
    """Base class of NeuralGLM and LocalGLMnet (not public)."""

    _parameter_constraints: dict[str, list[Any]] = {
        "family": [str, Family],
        "link": [None, str, Link],
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "embedding_dim": [None, Interval(Integral, 1, None, closed="left")],
        "max_epochs": [Interval(Integral, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "lr_schedule": [StrOptions(set(SCHEDULES))],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "patience": [None, Interval(Integral, 1, None, closed="left")],
        "device": [str],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    # ----------------------------------------------------------- subclass hooks
    def _build_module(self) -> nn.Module:
        """The network for the fitted encoder (deterministic: used again by :meth:`load`)."""
        raise NotImplementedError

    def _inputs(self, x_num: np.ndarray, codes: np.ndarray) -> list[np.ndarray]:
        """The arrays the network reads before the offset."""
        return [x_num, codes]

    def _fit_fixed(self, X: Any, y: np.ndarray, w: np.ndarray, offset: np.ndarray) -> np.ndarray:
        """Fit any fixed part of the linear predictor; return it on the training rows."""
        return np.zeros(len(y))

    def _fixed_eta(self, X: Any) -> np.ndarray | float:
        """The fixed part of the linear predictor on new rows."""
        return 0.0

    def _start(
        self,
        module: nn.Module,
        inputs: list[np.ndarray],
        y: np.ndarray,
        w: np.ndarray,
        offset: np.ndarray,
    ) -> None:
        """Set the starting weights after the random initialisation."""

    def _penalised(self, module: nn.Module) -> list[torch.Tensor]:
        """The weights the elastic-net penalty acts on."""
        raise NotImplementedError

    # ------------------------------------------------------------- validation
    def _family(self) -> Family:
        return get_family(self.family, self.link)

    def _hidden_sizes(self) -> tuple[int, ...]:
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, Integral) and not isinstance(sizes, bool):
            sizes = (sizes,)
        try:
            out = tuple(sizes)
        except TypeError:
            out = (None,)
        if not all(isinstance(s, Integral) and not isinstance(s, bool) and int(s) > 0 for s in out):
            raise ValueError(
                "hidden_layer_sizes must be a sequence of positive ints (one width per hidden "
                f"layer; () for none), got {self.hidden_layer_sizes!r}"
            )
        return tuple(int(s) for s in out)

    def _check_params(self) -> Family:
        self._validate_params()
        self._hidden_sizes()
        resolve_device(self.device)
        return self._family()

    def _input_names(self) -> list[str]:
        if hasattr(self, "feature_names_in_"):
            return [str(c) for c in self.feature_names_in_]
        return [f"x{j}" for j in range(self.n_features_in_)]

    def _validate_X(self, X: Any, *, reset: bool) -> Any:
        if sp.issparse(X):
            raise TypeError(
                f"{type(self).__name__} does not support sparse input: sparse data is not "
                "supported by the network's input layer; pass a dense array (X.toarray())"
            )
        X = validate_X(self, X, reset=reset, categorical=True)
        return to_numpy(X) if _is_device_array(X) else X

    def _validate_fit_data(
        self, X: Any, y: Any, sample_weight: Any, offset: Any, family: Family
    ) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
        X = self._validate_X(X, reset=True)
        n = X.shape[0]
        if y is None:
            raise ValueError("requires y to be passed, but the target y is None")
        if _is_device_array(y):
            y = to_numpy(y)
        y = np.asarray(y) if not isinstance(y, pd.Series | pd.DataFrame) else y.to_numpy()
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        y = validate_vector(y, n, "y")
        family.check_y(y)
        w = to_numpy(validate_vector(sample_weight, n, "sample_weight", allow_none_value=1.0))
        check_sample_weight(w)
        off = to_numpy(validate_vector(offset, n, "offset", allow_none_value=0.0))
        return X, y, np.asarray(w, dtype=np.float64), np.asarray(off, dtype=np.float64)

    # -------------------------------------------------------------------- fit
    def fit(self, X: Any, y: Any = None, sample_weight: Any = None, offset: Any = None) -> Any:
        """Fit the network with :func:`glmlib.nn.train`.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Numeric columns (standardised inside the estimator) and, in a
            DataFrame, pandas ``category`` columns (learned embeddings).
        y : array-like of shape (n_samples,)
            Response in the family's support (binomial: proportions).
        sample_weight : array-like of shape (n_samples,), optional
            Prior weights (binomial: number of trials).
        offset : array-like of shape (n_samples,), optional
            Added to the linear predictor (log exposure under a log link).

        Returns
        -------
        self
        """
        family = self._check_params()
        X, y, w, off = self._validate_fit_data(X, y, sample_weight, offset, family)
        device = resolve_device(self.device)
        rng = check_random_state(self.random_state)
        split_seed, init_seed, shuffle_seed = (int(s) for s in rng.randint(0, 2**31 - 1, size=3))

        self.encoder_ = TabularEncoder.fit(X, self._input_names(), w)
        x_num, codes = self.encoder_.transform(X)
        offset_total = off + self._fit_fixed(X, y, w, off)
        inputs = self._inputs(x_num, codes)
        module = self._build_module()
        init_weights(module, self.activation, torch.Generator().manual_seed(init_seed))
        self._start(module, inputs, y, w, offset_total)

        # Rows of zero weight do not enter the objective: leave them out of
        # the batches and the validation split.
        rows = np.flatnonzero(w > 0)
        n = len(rows)
        n_val = int(math.floor(self.validation_fraction * n))
        if n - n_val < 1:
            n_val = 0
        order = rows[np.random.RandomState(split_seed).permutation(n)]
        val_rows, train_rows = order[:n_val], order[n_val:]
        arrays = [*inputs, offset_total, y, w]

        def dataset(rows: np.ndarray) -> TensorDataset:
            return TensorDataset(*(_tensor(a[rows], torch.float32) for a in arrays))

        prox = (
            ElasticNetProx(self._penalised(module), self.alpha, self.l1_ratio)
            if self.alpha > 0
            else None
        )
        config = TrainConfig(
            max_epochs=int(self.max_epochs),
            batch_size=int(self.batch_size),
            learning_rate=float(self.learning_rate),
            weight_decay=float(self.weight_decay),
            lr_schedule=self.lr_schedule,
            patience=None if self.patience is None else int(self.patience),
            device=device,
            seed=shuffle_seed,
            verbose=bool(self.verbose),
        )
        result: TrainResult = train(
            module,
            GLMLoss(family),
            dataset(train_rows),
            dataset(val_rows) if n_val > 0 else None,
            config,
            prox=prox,
        )
        self.module_ = module.cpu().eval()
        self._inference = _float64_copy(self.module_)
        self.history_ = pd.DataFrame(
            result.history,
            columns=["epoch", "train_deviance", "val_deviance", "lr", "seconds"],
        )
        self.n_epochs_ = result.n_epochs
        self.best_epoch_ = result.best_epoch
        self.stopped_early_ = result.stopped_early
        self.device_ = device
        return self

    # ---------------------------------------------------------------- predict
    def _inference_module(self) -> nn.Module:
        """The float64 copy of the fitted network that predicts (made by fit, load, unpickling)."""
        return self._inference

    def _tensors(self, X: Any) -> list[torch.Tensor]:
        x_num, codes = self.encoder_.transform(X)
        return [_tensor(a, torch.float64) for a in self._inputs(x_num, codes)]

    @torch.no_grad()
    def _net_eta(self, X: Any) -> np.ndarray:
        module = self._inference_module()
        tensors = self._tensors(X)
        n = tensors[0].shape[0]
        out = [
            module(*(t[i : i + _PREDICT_BATCH] for t in tensors)).numpy()
            for i in range(0, n, _PREDICT_BATCH)
        ]
        return np.concatenate(out) if out else np.zeros(0)

    def predict_linear(self, X: Any, offset: Any = None) -> np.ndarray:
        """Linear predictor eta (the network's, plus any fixed GLM part and the offset).

        Evaluated in float64 on the CPU with the fitted (float32) weights.
        """
        check_is_fitted(self, "module_")
        X = self._validate_X(X, reset=False)
        eta = self._net_eta(X) + self._fixed_eta(X)
        if offset is not None:
            eta = eta + to_numpy(validate_vector(offset, X.shape[0], "offset"))
        return np.asarray(eta, dtype=np.float64)

    def predict(self, X: Any, offset: Any = None) -> np.ndarray:
        """Predicted mean mu = g^{-1}(eta).

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Same columns as in :meth:`fit`; categorical values are matched to
            the fitted levels (unseen levels raise ValueError).
        offset : array-like of shape (n_samples,), optional
            For a log link, log exposure.

        Returns
        -------
        mu : ndarray of shape (n_samples,)
        """
        return np.asarray(self._family().link.inverse(self.predict_linear(X, offset)))

    def score(self, X: Any, y: Any, sample_weight: Any = None, offset: Any = None) -> float:
        """D^2 = 1 - D(y, mu_hat) / D(y, weighted mean of y): the deviance explained.

        For the Gaussian family it is R^2.
        """
        fam = self._family()
        mu = self.predict(X, offset=offset)
        y = validate_vector(to_numpy(y) if _is_device_array(y) else y, mu.shape[0], "y")
        w = validate_vector(sample_weight, mu.shape[0], "sample_weight", allow_none_value=1.0)
        dev = float(fam.deviance(y, mu, w))
        dev_null = float(fam.deviance(y, np.full_like(y, np.average(y, weights=w)), w))
        return 1.0 - dev / dev_null if dev_null > 0 else (1.0 if dev == 0 else -math.inf)

    # ---------------------------------------------------------- save and load
    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())  # a copy: object.__getstate__ returns __dict__
        state.pop("_inference", None)  # a copy of module_, rebuilt on unpickling
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        if "module_" in self.__dict__:
            self._inference = _float64_copy(self.module_)

    def _fitted_state(self) -> dict[str, Any]:
        skip = {"module_", "_inference"}
        return {k: v for k, v in self.__dict__.items() if k.endswith("_") and k not in skip}

    def save(self, path: str | Path) -> None:
        """Save the fitted model: its parameters, fitted state and the network's state dict.

        :meth:`load` rebuilds the network from the parameters and loads the
        state dict. The file is written with ``torch.save`` and holds pickled
        Python objects (the fitted encoder, a CANN's GLM): load only files you trust.
        """
        check_is_fitted(self, "module_")
        torch.save(
            {
                "format": _FORMAT,
                "class": type(self).__name__,
                "params": self.get_params(deep=False),
                "fitted": self._fitted_state(),
                "state_dict": self.module_.state_dict(),
            },
            path,
        )

    @classmethod
    def load(cls, path: str | Path) -> Any:
        """Load a model written by :meth:`save` (on the CPU, whatever device trained it)."""
        try:
            state = torch.load(path, map_location="cpu", weights_only=False)
        except (pickle.UnpicklingError, RuntimeError, EOFError) as err:
            raise ValueError(f"{path} is not a model saved by glmlib.nn ({err})") from err
        if not isinstance(state, dict) or state.get("format") != _FORMAT:
            raise ValueError(f"{path} is not a model saved by glmlib.nn ({_FORMAT})")
        if state["class"] != cls.__name__:
            raise ValueError(f"{path} holds a {state['class']}, not a {cls.__name__}")
        model = cls(**state["params"])
        model.__dict__.update(state["fitted"])
        module = model._build_module()
        module.load_state_dict(state["state_dict"])
        model.module_ = module.eval()
        model._inference = _float64_copy(model.module_)
        return model

    def __sklearn_tags__(self):  # noqa: D105
        tags = super().__sklearn_tags__()
        try:
            fam = self._family()
        except (TypeError, ValueError):
            return tags
        tags.target_tags.positive_only = fam.name != "gaussian" and not (
            fam.name == "tweedie" and getattr(fam, "power", 1.0) == 0
        )
        return tags

    # ------------------------------------------------------------- helpers
    def _embedding_dims(self) -> list[int]:
        if self.embedding_dim is not None:
            return [int(self.embedding_dim)] * len(self.encoder_.categories)
        return [default_embedding_dim(k) for k in self.encoder_.cardinalities]
