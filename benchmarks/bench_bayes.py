"""Benchmark Bayesian logistic regression: effective samples per second.

Every sampler draws from the same posterior,

    y_i ~ Bernoulli(logit^-1(a + (x_i - xbar)' b)),  a ~ N(0, 2.5^2),  b_j ~ N(0, 1),

(the intercept prior on the centred predictors, bambi's default convention)
for n rows and p = 20 correlated standard-normal features (corr 0.5^|j-k|).

Metric: ESS/s = min over the intercept and the p coefficients of ArviZ's bulk
effective sample size, divided by the wall time from building the model to
the end of sampling, so compilation (PyTensor C, numba) is counted; imports
and data generation are not. On a shared machine wall time depends on what
else runs, so the CPU time of the run (user + system, of the process, its
threads and the worker processes PyMC starts) is recorded too, with ESS per
CPU second: less sensitive to load, but blind to parallelism. Each run is a forked child of a parent that has
imported only NumPy, so no in-process compilation cache is shared, but
PyTensor's on-disk C cache is warm (a first small run warms it and is
discarded). Fork rather than spawn: PyMC's own worker processes inherit the
start method, and spawned workers re-import ArviZ, which fails with
Matplotlib 3.11 unless glmlib's import guard ran first.

Samplers:
  glmlib_nutpie      BayesianGLM, sampler="nutpie" (its default: "auto")
  glmlib_nutpie_raw  the same with precondition=False (no Laplace whitening)
  glmlib_pymc        BayesianGLM, sampler="pymc"
  bambi              bambi.Model("y ~ x1 + ... + x20", family="bernoulli",
                     priors=same).fit() with its defaults (PyMC's NUTS)
  bambi_nutpie       the same with inference_method="nutpie"
  pymc               the model written by hand in PyMC, pm.sample() defaults

All use draws=1000, tune=1000 and one chain per core (2 here) unless told.

Usage::

    python benchmarks/bench_bayes.py                       # n = 1e4 and 1e5
    python benchmarks/bench_bayes.py --quick               # n = 2000, 300 draws
    python benchmarks/bench_bayes.py --sizes 10000 --samplers glmlib_nutpie bambi
    python benchmarks/bench_bayes.py --out bayes.json --markdown
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import os
import platform
import resource
import sys
import time
import traceback
from typing import Any

import numpy as np

SAMPLERS = ("glmlib_nutpie", "glmlib_nutpie_raw", "glmlib_pymc", "bambi", "bambi_nutpie", "pymc")
P = 20


def make_data(n: int, p: int = P, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    cov = 0.5 ** np.abs(np.subtract.outer(np.arange(p), np.arange(p)))
    X = rng.standard_normal((n, p)) @ np.linalg.cholesky(cov).T
    beta = np.linspace(-0.5, 0.5, p)
    y = rng.binomial(1, 1.0 / (1.0 + np.exp(-(-1.0 + X @ beta))))
    return X, y.astype(float)


def _quiet() -> None:
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    # Import PyMC and ArviZ through glmlib's guard: with Matplotlib 3.11, arviz-plots 0.8
    # (a bambi dependency) fails to import unless matplotlib.style.core is imported first.
    from glmlib.bayes._imports import arviz, pymc

    pymc()
    arviz()
    for name in ("pymc", "pytensor", "bambi", "arviz"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _min_ess(idata: Any, var_names: list[str]) -> tuple[float, float]:
    import arviz as az

    ess = az.ess(idata, var_names=var_names, method="bulk")
    rhat = az.rhat(idata, var_names=var_names)
    e = np.concatenate([np.ravel(ess[v]) for v in ess.data_vars])
    r = np.concatenate([np.ravel(rhat[v]) for v in rhat.data_vars])
    return float(e.min()), float(r.max())


def _cpu_seconds() -> float:
    """User + system time of this process and its waited-for children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def run_one(name: str, n: int, draws: int, tune: int, chains: int, seed: int) -> dict[str, Any]:
    """One timed run (in the current process)."""
    _quiet()
    cpu0 = _cpu_seconds()
    X, y = make_data(n)
    cols = [f"x{j + 1}" for j in range(P)]
    if name.startswith("glmlib"):
        from glmlib.bayes import BayesianGLM, Normal

        priors = {"intercept": Normal(0, 2.5), **{c: Normal(0, 1) for c in cols}}
        import pandas as pd

        df = pd.DataFrame(X, columns=cols)
        t0 = time.perf_counter()
        model = BayesianGLM("binomial", priors=priors, precondition=name != "glmlib_nutpie_raw")
        sampler = "pymc" if name == "glmlib_pymc" else "nutpie"
        model.fit(
            df, y, draws=draws, tune=tune, chains=chains, sampler=sampler,
            random_seed=seed, progressbar=False,
        )  # fmt: skip
        seconds = time.perf_counter() - t0
        ess, rhat = _min_ess(model.idata_, ["intercept", "coef"])
    elif name.startswith("bambi"):
        import bambi as bmb
        import pandas as pd

        df = pd.DataFrame(X, columns=cols)
        df["y"] = y.astype(int)
        priors = {"Intercept": bmb.Prior("Normal", mu=0, sigma=2.5)}
        priors.update({c: bmb.Prior("Normal", mu=0, sigma=1) for c in cols})
        t0 = time.perf_counter()
        model = bmb.Model("y ~ " + " + ".join(cols), df, family="bernoulli", priors=priors)
        kwargs: dict[str, Any] = {"inference_method": "nutpie"} if name == "bambi_nutpie" else {}
        idata = model.fit(
            draws=draws, tune=tune, chains=chains, random_seed=seed, progressbar=False, **kwargs
        )
        seconds = time.perf_counter() - t0
        ess, rhat = _min_ess(idata, ["Intercept", *cols])
    elif name == "pymc":
        import pymc as pm

        t0 = time.perf_counter()
        Xc = X - X.mean(axis=0)
        with pm.Model():
            Xd = pm.Data("X", Xc)
            a = pm.Normal("a", 0.0, 2.5)
            b = pm.Normal("b", 0.0, 1.0, shape=P)
            pm.Bernoulli("y", logit_p=a + pm.math.dot(Xd, b), observed=y)
            idata = pm.sample(
                draws=draws, tune=tune, chains=chains, random_seed=seed, progressbar=False
            )
        seconds = time.perf_counter() - t0
        ess, rhat = _min_ess(idata, ["a", "b"])
    else:
        raise ValueError(name)
    return {
        "sampler": name,
        "n": n,
        "p": P,
        "draws": draws,
        "tune": tune,
        "chains": chains,
        "seconds": seconds,
        "cpu_seconds": _cpu_seconds() - cpu0,
        "min_ess_bulk": ess,
        "max_rhat": rhat,
        "ess_per_second": ess / seconds,
        "ess_per_cpu_second": ess / (_cpu_seconds() - cpu0),
        "load_average": os.getloadavg()[0],
    }


def _child(queue: Any, args: tuple) -> None:
    try:
        queue.put(run_one(*args))
    except Exception:  # report, do not crash the benchmark
        queue.put({"sampler": args[0], "n": args[1], "error": traceback.format_exc(limit=3)})


def run_isolated(*args: Any, cap: float) -> dict[str, Any]:
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(queue, args))
    proc.start()
    proc.join(cap)
    if proc.is_alive():
        proc.kill()
        proc.join()
        return {"sampler": args[0], "n": args[1], "error": f"capped at {cap:.0f} s"}
    return queue.get() if not queue.empty() else {"sampler": args[0], "error": "no result"}


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("glmlib", "pymc", "pytensor", "nutpie", "bambi", "arviz", "numpy", "numba"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def markdown(results: list[dict[str, Any]]) -> str:
    lines = [
        "| n | sampler | wall s | CPU s | min bulk ESS | ESS/s | vs bambi | ESS/CPU s | vs bambi "
        "| max R-hat | load |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n in sorted({r["n"] for r in results}):
        rows = [r for r in results if r["n"] == n]
        base = next((r for r in rows if r["sampler"] == "bambi" and "error" not in r), None)
        for r in rows:
            if "error" in r:
                err = r["error"].splitlines()[-1]
                lines.append(f"| {n:,} | {r['sampler']} |" + " - |" * 8 + f" {err} |")
                continue
            wall = f"{r['ess_per_second'] / base['ess_per_second']:.1f}x" if base else "-"
            cpu = f"{r['ess_per_cpu_second'] / base['ess_per_cpu_second']:.1f}x" if base else "-"
            lines.append(
                f"| {n:,} | {r['sampler']} | {r['seconds']:.0f} | {r['cpu_seconds']:.0f} | "
                f"{r['min_ess_bulk']:.0f} | {r['ess_per_second']:.1f} | {wall} | "
                f"{r['ess_per_cpu_second']:.1f} | {cpu} | {r['max_rhat']:.3f} | "
                f"{r['load_average']:.1f} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--samplers", nargs="+", default=list(SAMPLERS), choices=SAMPLERS)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=min(4, os.cpu_count() or 1))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cap-seconds", type=float, default=1800.0)
    parser.add_argument("--quick", action="store_true", help="n = 2000, 300 draws and tune")
    parser.add_argument("--out", help="write results as JSON")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.draws, args.tune = [2000], 300, 300
    meta = {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
        "load_average_start": os.getloadavg(),
        "versions": versions(),
        "gpu": "none used (no JAX installed; numpyro/blackjax not measured)",
    }
    print(json.dumps(meta, indent=1), flush=True)
    # Warm PyTensor's on-disk C cache and numba's caches; discarded.
    run_isolated("pymc", 500, 50, 50, args.chains, args.seed, cap=args.cap_seconds)
    results = []
    for n in args.sizes:
        for name in args.samplers:
            res = run_isolated(
                name, n, args.draws, args.tune, args.chains, args.seed, cap=args.cap_seconds
            )
            results.append(res)
            print(json.dumps(res), flush=True)
    meta["load_average_end"] = os.getloadavg()
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"meta": meta, "results": results}, fh, indent=1)
    if args.markdown:
        print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
