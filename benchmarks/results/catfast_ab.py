import sys, time
sys.path.insert(0, "benchmarks")
import numpy as np, glmlib, glum
from bench_glm import onehot_poisson
X, y, frame = onehot_poisson(1_000_000, seed=3)
def g():
    glmlib.GLM(family="poisson", alpha=1e-4, l1_ratio=0.0, tol=1e-4).fit(frame, y)
def u():
    glum.GeneralizedLinearRegressor(family="poisson", alpha=1e-4, l1_ratio=0.0, gradient_tol=1e-4).fit(frame, y)
g(); u()
tg, tu = [], []
for r in range(5):
    t = time.perf_counter(); g(); tg.append(time.perf_counter() - t)
    t = time.perf_counter(); u(); tu.append(time.perf_counter() - t)
print(glmlib.__file__, f"glmlib {min(tg):.3f}  glum {min(tu):.3f}  glum/glmlib {min(tu)/min(tg):.2f}")
