"""Benchmark the neural GLMs on beMTPL97 (Belgian motor claims): held-out deviance and time.

Models, all Poisson with offset log(exposure) on the same 80/20 split:

* ``intercept``: one claim rate for everyone;
* ``glm``: main effects (numeric columns linear, categoricals treatment-coded);
* ``glm_splines``: natural cubic-spline bases of age, bonus-malus, power, car
  age, longitude and latitude, the categoricals, and age x power and
  age x bonus-malus products (a small ridge, alpha=1e-6, for collinear columns);
* ``gam``: glmlib.gam, smooths of the numeric columns and a tensor-product
  smooth of (longitude, latitude), smoothing parameters by REML;
* ``neural_glm``, ``cann`` (NeuralGLM with glm_skip=True), ``local_glmnet``;
* ``lightgbm``: LightGBM's Poisson objective with the offset as init_score
  (``pip install 'glmlib[gbm]'``).

Split 0 is the fixed split (seed ``--seed``); ``--splits K`` repeats the whole
comparison on K random splits and reports each model's mean and range. On
every split a paired bootstrap of the test rows (``--n-boot`` resamples) gives
a 95% interval of each model's deviance minus the GLM's. Deviances are the
mean Poisson unit deviance per policy on the test rows. Times are wall-clock
seconds of ``fit`` on ``--threads`` torch/BLAS threads.

Usage::

    python benchmarks/bench_neural.py                       # full size, 1 split
    python benchmarks/bench_neural.py --splits 3 --max-epochs 30
    python benchmarks/bench_neural.py --rows 20000 --quick  # smoke test
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _threads import apply_thread_limit  # noqa: E402

apply_thread_limit(sys.argv)

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, SplineTransformer, StandardScaler  # noqa: E402

import glmlib  # noqa: E402
from glmlib.datasets import load  # noqa: E402
from glmlib.gam import GAM, f, s, te  # noqa: E402
from glmlib.nn import LocalGLMnet, NeuralGLM  # noqa: E402

NUMERIC = ["ageph", "bm", "power", "agec", "long", "lat"]
CATEGORICAL = ["coverage", "sex", "fuel", "use", "fleet"]
FEATURES = NUMERIC + CATEGORICAL
POISSON = glmlib.families.get_family("poisson")


def mean_deviance(y: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """Per-row Poisson unit deviance."""
    return np.asarray(POISSON.unit_deviance(y, mu), dtype=np.float64)


class Intercept:
    """One claim frequency: sum of claims / sum of exposure."""

    def fit(self, X, y, offset):  # noqa: ANN001, ANN201, D102
        self.rate_ = y.sum() / np.exp(offset).sum()
        return self

    def predict(self, X, offset):  # noqa: ANN001, ANN201, D102
        return self.rate_ * np.exp(offset)


class SplineGLM:
    """Spline bases, one-hot categoricals and two products, then a Poisson GLM."""

    def fit(self, X, y, offset):  # noqa: ANN001, ANN201, D102
        self.design_ = ColumnTransformer(
            [
                (
                    "splines",
                    SplineTransformer(n_knots=6, degree=3, extrapolation="linear"),
                    NUMERIC,
                ),
                ("cats", OneHotEncoder(drop="first", sparse_output=False), CATEGORICAL),
            ]
        )
        self.scale_ = StandardScaler().fit(X[["ageph", "power", "bm"]])
        Z = self._design(X, fit=True)
        self.glm_ = glmlib.GLM(family="poisson", alpha=1e-6).fit(Z, y, offset=offset)
        return self

    def _design(self, X, fit=False):  # noqa: ANN001, ANN202
        basis = self.design_.fit_transform(X) if fit else self.design_.transform(X)
        a, p, b = self.scale_.transform(X[["ageph", "power", "bm"]]).T
        return np.column_stack([basis, a * p, a * b])

    def predict(self, X, offset):  # noqa: ANN001, ANN201, D102
        return self.glm_.predict(self._design(X), offset=offset)


class LightGBM:
    """LightGBM's Poisson objective, the offset as init_score."""

    def __init__(self, seed: int, threads: int) -> None:
        self.seed, self.threads = seed, threads

    def fit(self, X, y, offset):  # noqa: ANN001, ANN201, D102
        try:
            import lightgbm as lgb
        except ImportError as err:  # pragma: no cover
            raise ImportError("the LightGBM baseline needs: pip install 'glmlib[gbm]'") from err
        self.booster_ = lgb.train(
            {
                "objective": "poisson",
                "learning_rate": 0.05,
                "num_leaves": 31,
                "min_data_in_leaf": 200,
                "verbose": -1,
                "seed": self.seed,
                "num_threads": self.threads,
            },
            lgb.Dataset(X, y, init_score=offset, categorical_feature=CATEGORICAL),
            num_boost_round=300,
        )
        return self

    def predict(self, X, offset):  # noqa: ANN001, ANN201, D102
        return np.exp(self.booster_.predict(X, raw_score=True) + offset)


class Wrapped:
    """glmlib estimators: fit(X, y, offset=...), predict(X, offset=...)."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def fit(self, X, y, offset):  # noqa: ANN001, ANN201, D102
        self.model.fit(X, y, offset=offset)
        return self

    def predict(self, X, offset):  # noqa: ANN001, ANN201, D102
        return self.model.predict(X, offset=offset)


def models(args: argparse.Namespace, seed: int) -> dict[str, Any]:
    net = {
        "hidden_layer_sizes": (32, 16),
        "max_epochs": args.max_epochs,
        "batch_size": args.batch_size,
        "patience": args.patience,
        "device": "cpu",
        "random_state": seed,
    }
    gam_terms = (s("ageph") + s("bm") + s("power") + s("agec") + te("long", "lat")) + sum(
        (f(c) for c in CATEGORICAL[1:]), f(CATEGORICAL[0])
    )
    return {
        "intercept": Intercept(),
        "glm": Wrapped(glmlib.GLM(family="poisson")),
        "glm_splines": SplineGLM(),
        "gam": Wrapped(GAM(gam_terms, family="poisson")),
        "neural_glm": Wrapped(NeuralGLM("poisson", learning_rate=3e-3, **net)),
        "cann": Wrapped(NeuralGLM("poisson", glm_skip=True, learning_rate=1e-3, **net)),
        "local_glmnet": Wrapped(LocalGLMnet("poisson", learning_rate=3e-4, **net)),
        "lightgbm": LightGBM(seed, args.threads),
    }


def paired_interval(d: np.ndarray, n_boot: int, rng: np.random.Generator) -> list[float]:
    """95% percentile interval of the mean of per-row differences d (paired bootstrap)."""
    n = len(d)
    means = np.array([d[rng.integers(0, n, n)].mean() for _ in range(n_boot)])
    return [float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))]


def run_split(data: pd.DataFrame, split: int, args: argparse.Namespace) -> dict[str, Any]:
    seed = args.seed + split
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(data))
    n_train = int(0.8 * len(data))
    train, test = data.iloc[order[:n_train]], data.iloc[order[n_train:]]
    X, Xt = train[FEATURES], test[FEATURES]
    y, yt = train["nclaims"].to_numpy(float), test["nclaims"].to_numpy(float)
    o, ot = np.log(train["expo"].to_numpy()), np.log(test["expo"].to_numpy())
    unit: dict[str, np.ndarray] = {}
    out: dict[str, Any] = {"split": split, "seed": seed, "n_train": len(y), "n_test": len(yt)}
    for name, model in models(args, seed).items():
        if args.only and name not in args.only:
            continue
        tic = time.perf_counter()
        model.fit(X, y, o)
        seconds = time.perf_counter() - tic
        unit[name] = mean_deviance(yt, model.predict(Xt, ot))
        extra = {}
        inner = getattr(model, "model", None)
        if hasattr(inner, "n_epochs_"):
            extra = {"epochs": int(inner.n_epochs_), "best_epoch": int(inner.best_epoch_)}
        out[name] = {"deviance": float(unit[name].mean()), "seconds": seconds, **extra}
        print(
            f"split {split} {name:13s} deviance {unit[name].mean():.5f}  {seconds:7.1f} s {extra}",
            flush=True,
        )
    if "glm" in unit:
        boot = np.random.default_rng(seed + 10_000)
        for name, d in unit.items():
            if name != "glm":
                out[name]["minus_glm"] = float((d - unit["glm"]).mean())
                out[name]["minus_glm_ci"] = paired_interval(d - unit["glm"], args.n_boot, boot)
    return out


def markdown(results: list[dict[str, Any]]) -> str:
    names = [k for k in results[0] if isinstance(results[0][k], dict)]
    lines = [
        "| model | test deviance (split 0) | minus GLM, 95% paired bootstrap | mean over splits [min, max] | fit seconds (split 0) |",
        "|---|---|---|---|---|",
    ]
    for name in names:
        r0 = results[0][name]
        devs = [r[name]["deviance"] for r in results]
        ci = r0.get("minus_glm_ci")
        diff = f"{r0['minus_glm']:+.5f} [{ci[0]:+.5f}, {ci[1]:+.5f}]" if ci else ""
        lines.append(
            f"| {name} | {r0['deviance']:.5f} | {diff} | {np.mean(devs):.5f} "
            f"[{min(devs):.5f}, {max(devs):.5f}] | {r0['seconds']:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", type=int, default=None, help="subsample of policies (default: all)"
    )
    parser.add_argument("--splits", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-epochs", type=int, default=30)
    parser.add_argument("--patience", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--n-boot", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", nargs="*", default=None, help="model names to run")
    parser.add_argument("--quick", action="store_true", help="20,000 rows, 3 epochs")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    if args.quick:
        args.rows, args.max_epochs = args.rows or 20_000, min(args.max_epochs, 3)
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", category=UserWarning)
    data = load("bemtpl97")
    if args.rows is not None and args.rows < len(data):
        data = data.iloc[np.random.default_rng(args.seed).permutation(len(data))[: args.rows]]
    started = dt.datetime.now(dt.UTC)
    results: list[dict[str, Any]] = []
    for k in range(args.splits):  # the record is rewritten after every split
        results.append(run_split(data, k, args))
        write(args, data, started, results)
    print(markdown(results))


def write(
    args: argparse.Namespace,
    data: pd.DataFrame,
    started: dt.datetime,
    results: list[dict[str, Any]],
) -> None:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    record = {
        "benchmark": "bench_neural",
        "date": started.isoformat(timespec="seconds"),
        "commit": commit,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_before": os.getloadavg(),
        },
        "settings": vars(args),
        "n_rows": len(data),
        "versions": {
            "glmlib": glmlib.__version__,
            "torch": torch.__version__,
            "numpy": np.__version__,
        },
        "splits": results,
        "markdown": markdown(results),
    }
    if args.out:
        Path(args.out).write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
