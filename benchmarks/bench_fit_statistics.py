"""What fitted statistics cost: ``GLM.fit`` alone against fit + AIC/BIC/scale/summary.

Since statistics are computed on demand (:class:`glmlib._inference.FitStatistics`),
``fit`` no longer pays for the effective degrees of freedom of a penalised fit
or a second eigen-decomposition of a rank-deficient one; a caller who asks for
them pays then. Three problems (seed 0):

* ``ridge``: Poisson, n = 4000, p = 1500, alpha = 0.01 (effective df: a
  Cholesky factorisation and a triangular inverse of a 1501 x 1501 matrix);
* ``wide``: Gaussian, n = 400, p = 1500, unpenalised (rank-deficient:
  minimum-norm solution; the rank comes from the same eigen-decomposition);
* ``small``: Poisson, n = 20000, p = 20 (statistics cost next to nothing).

Each timing is the best of ``--repeats`` runs. Run it on two checkouts (with
``PYTHONPATH`` pointing at each) to compare; ``--quick`` shrinks the problems.

Usage::

    PYTHONPATH=. python benchmarks/bench_fit_statistics.py --threads 1
"""

from __future__ import annotations

import sys

from _threads import apply_thread_limit

apply_thread_limit(sys.argv)

import argparse  # noqa: E402
import pickle  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402

from glmlib import GLM  # noqa: E402


def _best(f: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times)


def _problems(quick: bool) -> dict[str, tuple[Callable[[], GLM], np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    n, p, n_wide = (800, 300, 80) if quick else (4000, 1500, 400)
    X = rng.normal(size=(n, p))
    y = rng.poisson(np.exp(0.2 + X[:, :5] @ np.full(5, 0.1)))
    Xw = rng.normal(size=(n_wide, p))
    yw = Xw[:, :3].sum(1) + rng.normal(size=n_wide)
    Xs = rng.normal(size=(20000, 20))
    ys = rng.poisson(np.exp(0.2 + Xs[:, :5] @ np.full(5, 0.1)))
    return {
        f"ridge poisson n={n} p={p}": (lambda: GLM(family="poisson", alpha=0.01), X, y),
        f"wide gaussian n={n_wide} p={p}": (lambda: GLM(), Xw, yw),
        "poisson n=20000 p=20": (lambda: GLM(family="poisson"), Xs, ys),
    }


def _with_statistics(model: GLM) -> None:
    _ = (model.aic_, model.bic_, model.scale_, model.summary())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small problems (smoke test)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", help="BLAS/OpenMP threads (read before NumPy loads)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    for name, (make, X, y) in _problems(args.quick).items():
        t_fit = _best(lambda m=make, X=X, y=y: m().fit(X, y), args.repeats)
        t_all = _best(lambda m=make, X=X, y=y: _with_statistics(m().fit(X, y)), args.repeats)
        size = len(pickle.dumps(make().fit(X, y)))
        print(
            f"{name}: fit {t_fit:.3f} s, fit + aic/bic/scale/summary {t_all:.3f} s, "
            f"pickle {size / 1e6:.2f} MB"
        )


if __name__ == "__main__":
    main()
