"""Fit-only A/B on sparse_onehot's categorical DataFrame: glmlib and glum alternated, best of 5.

Run from the repository root; PYTHONPATH picks the glmlib measured.
"""

import sys
import time

import glum

sys.path.insert(0, "benchmarks")
from bench_glm import onehot_poisson  # noqa: E402

import glmlib  # noqa: E402

X, y, frame = onehot_poisson(1_000_000, seed=3)


def fit_glmlib() -> None:
    glmlib.GLM(family="poisson", alpha=1e-4, l1_ratio=0.0, tol=1e-4).fit(frame, y)


def fit_glum() -> None:
    glum.GeneralizedLinearRegressor(
        family="poisson", alpha=1e-4, l1_ratio=0.0, gradient_tol=1e-4
    ).fit(frame, y)


fit_glmlib()
fit_glum()
times: dict[str, list[float]] = {"glmlib": [], "glum": []}
for _ in range(5):
    for name, fit in (("glmlib", fit_glmlib), ("glum", fit_glum)):
        start = time.perf_counter()
        fit()
        times[name].append(time.perf_counter() - start)
a, b = min(times["glmlib"]), min(times["glum"])
print(glmlib.__file__, f"glmlib {a:.3f}  glum {b:.3f}  glum/glmlib {b / a:.2f}")
