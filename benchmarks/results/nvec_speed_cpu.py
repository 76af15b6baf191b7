"""CPU time of one fit (best of 5) for three problems; run once per glmlib checkout, alternated.

Which glmlib is timed is whichever the interpreter imports (PYTHONPATH); the
output line names its checkout. Used for results/nvec_speed_cpu.log.
"""

import os
import sys
import time

import glmlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from bench_glm import make_problem  # noqa: E402

out = []
for name in ["logistic_l2", "logistic_l1", "poisson_l2"]:
    p = make_problem(name)
    m = glmlib.GLM(family=p.family, alpha=p.alpha, l1_ratio=p.l1_ratio, tol=1e-4)
    m.fit(p.X[:5000], p.y[:5000])
    best = 1e9
    for _ in range(5):
        t = time.process_time()
        m.fit(p.X, p.y)
        best = min(best, time.process_time() - t)
    out.append(f"{name} {best:.3f}")
print(glmlib.__file__.split("/")[2], " ".join(out))
