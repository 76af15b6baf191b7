import sys, time, numpy as np, glmlib
sys.path.insert(0, "/work/wt-nvec/benchmarks")
from bench_glm import make_problem
out = []
for name in ["logistic_l2", "logistic_l1", "poisson_l2"]:
    p = make_problem(name)
    m = glmlib.GLM(family=p.family, alpha=p.alpha, l1_ratio=p.l1_ratio, tol=1e-4)
    m.fit(p.X[:5000], p.y[:5000])
    best = 1e9
    for _ in range(5):
        t = time.process_time(); m.fit(p.X, p.y); best = min(best, time.process_time() - t)
    out.append(f"{name} {best:.3f}")
print(glmlib.__file__.split("/")[2], " ".join(out))
