"""Path and CV memory in glmlib's two regimes, at bench_glm's sizes (2026-12-06).

``small``: as shipped (fold copies for X up to 1 GiB, column subsets copied
up to 64 MiB). ``scale``: both thresholds set to 0, the regime of an X over
1 GiB. Prints time and tracemalloc's peak (NumPy and Python allocations).
Run: ``OMP_NUM_THREADS=1 python cv_path_memory_regimes.py small|scale``.
"""

import sys
import time
import tracemalloc

import numpy as np

import glmlib.design.dense as dense
import glmlib.glm_cv as glm_cv
from glmlib import GLMCV, glm_path
from glmlib.datasets import make_glm


def traced(fit):
    """(seconds, peak bytes, result) of ``fit()`` under tracemalloc."""
    tracemalloc.start()
    start = time.perf_counter()
    result = fit()
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return seconds, peak, result


def main(regime: str) -> None:
    if regime == "scale":
        glm_cv._FOLD_COPY_BYTES = 0
        dense._SUBSET_COPY_BYTES = 0
    X, y, _ = make_glm(100_000, 100, "binomial", n_informative=20, random_state=4)
    X, y = np.asarray(X), np.asarray(y)
    alphas = np.geomspace(0.046, 4.6e-5, 50)
    GLMCV(family="binomial", l1_ratio=1, alphas=alphas[:3], cv=5).fit(X[:3000], y[:3000])
    cv = GLMCV(family="binomial", l1_ratio=1, alphas=alphas, cv=5)
    t_cv, peak_cv, _ = traced(lambda: cv.fit(X, y))
    X2, y2, _ = make_glm(100_000, 200, "binomial", n_informative=20, random_state=0)
    X2, y2 = np.asarray(X2), np.asarray(y2)
    alphas2 = np.geomspace(0.0666, 6.66e-5, 100)
    t_path, peak_path, _ = traced(
        lambda: glm_path(X2, y2, family="binomial", l1_ratio=1, alphas=alphas2)
    )
    print(
        f"{regime}: CV {t_cv:.1f} s, peak {peak_cv / 2**20:.0f} MB "
        f"= {100 * peak_cv / X.nbytes:.0f}% of X | path {t_path:.1f} s, "
        f"peak {peak_path / 2**20:.0f} MB = {100 * peak_path / X2.nbytes:.0f}% of X"
    )


if __name__ == "__main__":
    main(sys.argv[1])
