"""Benchmark glmlib's GAM against pyGAM: 3-smooth logistic and Poisson GAMs.

Each problem has three smooth covariates on [0, 1] (a sine, a quadratic and a
linear effect) with n = 1e4, 1e5 and 1e6 training rows and a held-out set of
min(n, 1e5) rows. Two comparisons per problem and size:

* **smoothness selection**: pyGAM's ``gam.gridsearch(X, y)`` (its default 11
  values of a common lambda, UBRE: what its users run) against glmlib's
  ``GAM(...)`` with REML (one lambda per smooth, chosen by the performance
  iteration);
* **fixed lambda**: both fit the same penalised model (20 cubic B-splines per
  smooth, second-order difference penalty, lambda = 0.6, pyGAM's default),
  so their solutions must agree; this times the fitting engines alone.

Every fit runs in a forked child with BLAS limited to ``--threads`` threads
(default 1: on a shared machine, multi-threaded OpenBLAS can be many times
slower on these matrix sizes, for both libraries alike). A fit longer than
``--cap-seconds`` is killed and reported as capped; a fit whose time, projected
linearly in n from the previous size, would exceed the cap is not started and
is reported as such. A small fit warms up imports before the timed one.
Deviances are computed here from each library's predicted means (train and
held-out), so no library grades its own work; EDF are the libraries' own
(both include the intercept).

``--bemtpl`` runs a real problem instead: the beMTPL97 claim-frequency GAM
(``glmlib.datasets.load("bemtpl97")``, 80/20 split of the 163,212 policies by
``--seed``; Poisson, offset log(expo), s(ageph) + s(bm) + s(power) + s(agec) +
te(long, lat) + f(coverage) + f(sex) + f(fuel) + f(use) + f(fleet), REML),
fitted by glmlib on the discretised design (``GAM(discrete=True)``: the
covariates have 2 to 583 distinct values among 130,569 rows) and on the dense
model matrix (``discrete=False``), with ``--bemtpl-splines`` B-splines per
``s`` smooth (te: 5 per margin). Deviance explained is computed here from the
predicted means against the intercept-only model with the same offset; the
two fits' coefficients are compared.

Usage::

    python benchmarks/bench_gam.py                      # n = 1e4, 1e5, 1e6
    python benchmarks/bench_gam.py --sizes 10000 --repeats 3
    python benchmarks/bench_gam.py --out gam.json --markdown
    python benchmarks/bench_gam.py --bemtpl --repeats 3 --out bemtpl.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import os
import platform
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pygam
from scipy.special import xlogy
from threadpoolctl import threadpool_limits

import glmlib
from glmlib.gam import GAM, f, s, te

LAM = 0.6  # pyGAM's default smoothing parameter
WARMUP_ROWS = 2000
FAMILIES = {"logistic": "binomial", "poisson": "poisson"}


# ------------------------------------------------------------------- problems
def make_data(problem: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """X ~ U(0,1)^3; eta = sine + quadratic + linear; y Bernoulli or Poisson."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0.0, 1.0, size=(n, 3))
    f = 0.8 * np.sin(2 * np.pi * X[:, 0]) + 1.5 * (X[:, 1] - 0.5) ** 2 + 0.5 * X[:, 2]
    if problem == "logistic":
        y = rng.binomial(1, 1.0 / (1.0 + np.exp(-(f - 0.3)))).astype(np.float64)
    else:
        y = rng.poisson(np.exp(0.2 + f)).astype(np.float64)
    return X, y


def mean_deviance(problem: str, y: np.ndarray, mu: np.ndarray) -> float:
    mu = np.clip(mu, 1e-15, 1 - 1e-15) if problem == "logistic" else np.clip(mu, 1e-300, None)
    if problem == "logistic":
        d = 2 * (xlogy(y, y / mu) + xlogy(1 - y, (1 - y) / (1 - mu)))
    else:
        d = 2 * (xlogy(y, y / mu) - (y - mu))
    return float(np.mean(d))


# ---------------------------------------------------------------------- fits
def pygam_model(problem: str, lam: float = LAM) -> Any:
    terms = pygam.s(0, lam=lam) + pygam.s(1, lam=lam) + pygam.s(2, lam=lam)
    return pygam.LogisticGAM(terms) if problem == "logistic" else pygam.PoissonGAM(terms)


def pygam_grid(problem: str, X: np.ndarray, y: np.ndarray) -> Any:
    return pygam_model(problem).gridsearch(X, y, progress=False)


def pygam_fixed(problem: str, X: np.ndarray, y: np.ndarray) -> Any:
    return pygam_model(problem).fit(X, y)


def glmlib_reml(problem: str, X: np.ndarray, y: np.ndarray) -> Any:
    return GAM(s(0) + s(1) + s(2), family=FAMILIES[problem]).fit(X, y)


def glmlib_fixed(problem: str, X: np.ndarray, y: np.ndarray) -> Any:
    terms = s(0, lam=LAM) + s(1, lam=LAM) + s(2, lam=LAM)
    return GAM(terms, family=FAMILIES[problem]).fit(X, y)


def describe(model: Any, X: np.ndarray) -> tuple[np.ndarray, float, Any]:
    """(predicted means at X, total EDF, lambdas) of a fitted model of either library."""
    if isinstance(model, GAM):
        return model.predict(X), float(model.edf_total_), [round(float(v), 4) for v in model.lam_]
    mu = model.predict_mu(X) if hasattr(model, "predict_mu") else model.predict(X)
    lam = [round(float(np.ravel(v)[0]), 4) for v in model.lam]
    return np.asarray(mu), float(model.statistics_["edof"]), lam


RUNNERS: dict[str, tuple[str, str, Callable[..., Any]]] = {
    "pygam_grid": ("pyGAM gridsearch (UBRE, 11 lambdas)", "selection", pygam_grid),
    "glmlib_reml": ("glmlib GAM (REML)", "selection", glmlib_reml),
    "pygam_fixed": ("pyGAM fit, lambda = 0.6", "fixed", pygam_fixed),
    "glmlib_fixed": ("glmlib GAM, lambda = 0.6", "fixed", glmlib_fixed),
}


# ------------------------------------------------------------------ beMTPL97
BEMTPL_NUMERIC = ["ageph", "bm", "power", "agec", "long", "lat"]
BEMTPL_FACTORS = ["coverage", "sex", "fuel", "use", "fleet"]


def bemtpl_data(seed: int) -> dict[str, Any]:
    """80/20 split of beMTPL97: features, claim counts and log exposures."""
    from glmlib.datasets import load

    claims = load("bemtpl97")
    order = np.random.default_rng(seed).permutation(len(claims))
    n_train = int(0.8 * len(claims))
    parts = {"train": claims.iloc[order[:n_train]], "test": claims.iloc[order[n_train:]]}
    out: dict[str, Any] = {}
    for key, df in parts.items():
        out[key] = (
            df[BEMTPL_NUMERIC + BEMTPL_FACTORS].reset_index(drop=True),
            df["nclaims"].to_numpy(np.float64),
            np.log(df["expo"].to_numpy(np.float64)),
        )
    return out


def bemtpl_model(n_splines: int, discrete: bool) -> GAM:
    terms = (
        s("ageph", n_splines=n_splines)
        + s("bm", n_splines=n_splines)
        + s("power", n_splines=n_splines)
        + s("agec", n_splines=n_splines)
        + te("long", "lat")
    )
    for col in BEMTPL_FACTORS:
        terms = terms + f(col)
    return GAM(terms, family="poisson", method="REML", discrete=discrete)


def _bemtpl_child(
    conn: Any, data: dict[str, Any], n_splines: int, discrete: bool, threads: int
) -> None:
    try:
        X, y, off = data["train"]
        Xt, yt, offt = data["test"]
        with threadpool_limits(threads), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            bemtpl_model(n_splines, discrete).fit(X[:5000], y[:5000], offset=off[:5000])
            t0 = time.perf_counter()
            model = bemtpl_model(n_splines, discrete).fit(X, y, offset=off)
            seconds = time.perf_counter() - t0
        mu, mu_t = model.predict(X, offset=off), model.predict(Xt, offset=offt)
        mu0 = y.sum() / np.exp(off).sum() * np.exp(off)  # intercept-only, same offset
        dev, dev0 = (mean_deviance("poisson", y, m) * len(y) for m in (mu, mu0))
        conn.send(
            (
                "ok",
                {
                    "seconds": seconds,
                    "discrete_": bool(model.discrete_),
                    "deviance": dev,
                    "deviance_explained": 1.0 - dev / dev0,
                    "test_mean_deviance": mean_deviance("poisson", yt, mu_t),
                    "edf": float(model.edf_total_),
                    "n_iter": int(model.n_iter_),
                    "lam": [np.round(np.ravel(v), 4).tolist() for v in model.lam_ if v],
                    "theta": [model.intercept_, *model.coef_.tolist()],
                },
            )
        )
    except BaseException:  # noqa: BLE001 - report anything, the parent carries on
        conn.send(("error", traceback.format_exc(limit=6)))
    finally:
        conn.close()


def run_bemtpl(args: argparse.Namespace, meta: dict[str, Any]) -> None:
    """Time the discretised and the dense fit of the beMTPL97 GAM; compare them."""
    data = bemtpl_data(args.seed)
    X = data["train"][0]
    meta["bemtpl"] = {
        "n_train": len(X),
        "n_test": len(data["test"][0]),
        "distinct_values": {c: int(X[c].nunique()) for c in X.columns},
        "distinct_long_lat": int(len(X[["long", "lat"]].drop_duplicates())),
    }
    print(json.dumps(meta["bemtpl"]), flush=True)
    rows: list[dict[str, Any]] = []
    ctx = mp.get_context("fork")
    for n_splines in args.bemtpl_splines:
        fits: dict[bool, dict[str, Any]] = {}
        for discrete in (True, False):
            best: dict[str, Any] | None = None
            times = []
            for _ in range(args.repeats):
                recv, send = ctx.Pipe(duplex=False)
                proc = ctx.Process(
                    target=_bemtpl_child,
                    args=(send, data, n_splines, discrete, args.threads),
                    daemon=True,
                )
                proc.start()
                send.close()
                status, value = recv.recv()
                proc.join()
                if status != "ok":
                    raise RuntimeError(value)
                times.append(value["seconds"])
                if best is None or value["seconds"] < best["seconds"]:
                    best = value
            assert best is not None
            best["all_seconds"] = times
            fits[discrete] = best
        theta_q, theta_d = (np.asarray(fits[k].pop("theta")) for k in (True, False))
        gap = float(np.max(np.abs(theta_q - theta_d)) / np.max(np.abs(theta_d)))
        for discrete in (True, False):
            r = fits[discrete]
            rows.append(
                {
                    "n_splines": n_splines,
                    "fit": "glmlib GAM(discrete=True)"
                    if discrete
                    else "glmlib GAM(discrete=False)",
                    **r,
                    "speedup_vs_dense": fits[False]["seconds"] / r["seconds"],
                    "max_rel_coef_gap_discrete_vs_dense": gap,
                }
            )
            print(
                f"   s() with {n_splines} splines, {rows[-1]['fit']:<28s} "
                f"{r['seconds']:6.3f} s (runs {', '.join(f'{t:.3f}' for t in r['all_seconds'])})"
                f"  deviance explained {r['deviance_explained']:.6f}  EDF {r['edf']:.2f}"
                f"  iterations {r['n_iter']}",
                flush=True,
            )
        print(f"   coefficients: max relative gap discrete vs dense {gap:.1e}", flush=True)
    meta["load_average_at_end"] = os.getloadavg()
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"meta": meta, "rows": rows}, fh, indent=1, default=str)
    if args.markdown:
        lines = [
            "| s() splines | fit | seconds (best) | dense / this | deviance explained | "
            "test mean deviance | EDF |",
            "|---:|---|---:|---:|---:|---:|---:|",
        ]
        for r in rows:
            lines.append(
                f"| {r['n_splines']} | {r['fit']} | {r['seconds']:.3f} | "
                f"{r['speedup_vs_dense']:.1f}x | {r['deviance_explained']:.6f} | "
                f"{r['test_mean_deviance']:.6f} | {r['edf']:.2f} |"
            )
        print("\n".join(lines))


# -------------------------------------------------------------------- harness
def _child(
    conn: Any,
    key: str,
    problem: str,
    X: np.ndarray,
    y: np.ndarray,
    Xt: np.ndarray,
    yt: np.ndarray,
    threads: int,
) -> None:
    try:
        fit = RUNNERS[key][2]
        with threadpool_limits(threads), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit(problem, X[:WARMUP_ROWS], y[:WARMUP_ROWS])
            t0 = time.perf_counter()
            model = fit(problem, X, y)
            seconds = time.perf_counter() - t0
            mu, edf, lam = describe(model, X)
            mu_t, _, _ = describe(model, Xt)
        conn.send(
            (
                "ok",
                {
                    "seconds": seconds,
                    "deviance": mean_deviance(problem, y, mu) * len(y),
                    "test_mean_deviance": mean_deviance(problem, yt, np.asarray(mu_t)),
                    "edf": edf,
                    "lam": lam,
                },
            )
        )
    except BaseException:  # noqa: BLE001 - report anything, the parent carries on
        conn.send(("error", traceback.format_exc(limit=6)))
    finally:
        conn.close()


def run_once(
    key: str, problem: str, data: tuple[np.ndarray, ...], cap: float, threads: int
) -> tuple[str, Any]:
    ctx = mp.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(send, key, problem, *data, threads), daemon=True)
    proc.start()
    send.close()
    if not recv.poll(cap + 60.0):  # the untimed warm-up on top of the cap
        proc.kill()
        proc.join()
        return "capped", f"killed at {cap:.0f} s (cap)"
    try:
        msg = recv.recv()
    except EOFError:
        proc.join()
        return "error", f"child exited with code {proc.exitcode} (killed for memory?)"
    proc.join()
    if msg[0] == "ok" and msg[1]["seconds"] > cap:
        return "capped", f"took {msg[1]['seconds']:.0f} s > cap"
    return msg[0], msg[1]


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--problems", nargs="+", default=list(FAMILIES), choices=list(FAMILIES))
    ap.add_argument("--runners", nargs="+", default=list(RUNNERS), choices=list(RUNNERS))
    ap.add_argument("--repeats", type=int, default=1, help="best of this many timed fits")
    ap.add_argument("--cap-seconds", type=float, default=600.0)
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads in every fit")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="write results as JSON")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    ap.add_argument(
        "--bemtpl", action="store_true", help="the beMTPL97 GAM, discretised against dense"
    )
    ap.add_argument("--bemtpl-splines", type=int, nargs="+", default=[10, 20])
    args = ap.parse_args()

    meta = {
        "date": dt.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs visible, {platform.platform()}",
        "load_average_at_start": os.getloadavg(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "glmlib": glmlib.__version__,
        "pygam": pygam.__version__,
        "threads": args.threads,
        "cap_seconds": args.cap_seconds,
        "gpu": "not measured in this session (no GPU lent)",
    }
    print(json.dumps(meta, indent=1), flush=True)
    if args.bemtpl:
        meta.pop("pygam")
        meta["scipy"] = __import__("scipy").__version__
        meta["numba"] = __import__("numba").__version__
        meta["commit"] = _commit()
        meta["time_utc"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        run_bemtpl(args, meta)
        return
    rows: list[dict[str, Any]] = []
    last_time: dict[tuple[str, str], tuple[int, float]] = {}
    for problem in args.problems:
        for n in sorted(args.sizes):
            X, y = make_data(problem, n, args.seed)
            Xt, yt = make_data(problem, min(n, 100_000), args.seed + 1)
            print(f"== {problem} n={n:,}", flush=True)
            for key in args.runners:
                label, mode, _ = RUNNERS[key]
                row: dict[str, Any] = {
                    "problem": problem,
                    "n": n,
                    "runner": key,
                    "label": label,
                    "mode": mode,
                }
                prev = last_time.get((problem, key))
                if prev is not None and prev[1] * n / prev[0] > args.cap_seconds:
                    row.update(
                        status="skipped",
                        detail=(
                            f"projected {prev[1] * n / prev[0]:.0f} s > cap from {prev[1]:.0f} s at "
                            f"n={prev[0]:,}"
                        ),
                    )
                    print(f"   {label:<40s} skipped: {row['detail']}", flush=True)
                    rows.append(row)
                    continue
                best: dict[str, Any] | None = None
                for _ in range(args.repeats):
                    status, value = run_once(
                        key, problem, (X, y, Xt, yt), args.cap_seconds, args.threads
                    )
                    if status != "ok":
                        row.update(status=status, detail=str(value).strip().splitlines()[-1])
                        if status == "error":
                            print(value, file=sys.stderr)
                        break
                    if best is None or value["seconds"] < best["seconds"]:
                        best = value
                if best is not None:
                    row.update(status="ok", **best)
                    last_time[(problem, key)] = (n, best["seconds"])
                    print(
                        f"   {label:<40s} {best['seconds']:8.2f} s  deviance {best['deviance']:.6g}"
                        f"  EDF {best['edf']:.2f}",
                        flush=True,
                    )
                else:
                    print(f"   {label:<40s} {row['status']}: {row['detail']}", flush=True)
                    if row["status"] == "capped":
                        last_time[(problem, key)] = (n, args.cap_seconds)
                rows.append(row)
    table = pd.DataFrame(rows)
    for (problem, n, mode), grp in table.groupby(["problem", "n", "mode"]):
        ours = grp[grp.runner.str.startswith("glmlib")]
        if len(ours) and ours.iloc[0].get("status") == "ok":
            t = float(ours.iloc[0]["seconds"])
            mask = (table.problem == problem) & (table.n == n) & (table["mode"] == mode)
            table.loc[mask & (table.status == "ok"), "ratio_to_glmlib"] = (
                table.loc[mask & (table.status == "ok"), "seconds"] / t
            )
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(
                {"meta": meta, "rows": table.to_dict(orient="records")}, fh, indent=1, default=str
            )
    if args.markdown:
        print(markdown(table))


def _commit() -> str:
    import subprocess

    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def markdown(table: pd.DataFrame) -> str:
    lines = [
        "| problem | n | fit | seconds | time / glmlib | deviance | held-out mean deviance | EDF |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for _, r in table.iterrows():
        if r.get("status") == "ok":
            lines.append(
                f"| {r.problem} | {r.n:,} | {r.label} | {r.seconds:.2f} | "
                f"{r.get('ratio_to_glmlib', float('nan')):.1f}x | {r.deviance:.6g} | "
                f"{r.test_mean_deviance:.5f} | {r.edf:.1f} |"
            )
        else:
            lines.append(f"| {r.problem} | {r.n:,} | {r.label} | {r.status}: {r.detail} | | | | |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
