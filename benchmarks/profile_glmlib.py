"""Profile glmlib's fit on one bench_glm.py problem (cProfile, in-process).

    python benchmarks/profile_glmlib.py logistic_l2 --threads 1
    python benchmarks/profile_glmlib.py logistic_l1_path --scale 0.1 --sort tottime --lines 20
    python benchmarks/profile_glmlib.py logistic_l1_cv --threads 1 --sort tottime

Prints the wall time, the top functions and who calls the usual hot spots
(the Gram matrix, column subsets, column standard deviations).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _threads import apply_thread_limit  # noqa: E402  (before NumPy loads)

if __name__ == "__main__":
    apply_thread_limit(sys.argv)

from bench_glm import (  # noqa: E402
    PROBLEMS,
    TOLERANCES,
    glmlib_cv,
    glmlib_fit,
    glmlib_path,
    make_problem,
)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("problem", choices=PROBLEMS)
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of the full rows")
    ap.add_argument("--tol", type=float, default=TOLERANCES["glmlib"])
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--sort", default="cumulative", help="pstats sort key")
    ap.add_argument("--lines", type=int, default=30)
    args = ap.parse_args()
    prob = make_problem(args.problem, scale=args.scale)
    fit = glmlib_cv if prob.is_cv else glmlib_path if prob.is_path else glmlib_fit
    fit(prob.head(2000), args.tol)  # warm-up: imports and numba caches
    profiler = cProfile.Profile()
    profiler.enable()
    t0 = time.perf_counter()
    out = fit(prob, args.tol)
    seconds = time.perf_counter() - t0
    profiler.disable()
    print(f"{prob.description}: {seconds:.2f} s under cProfile, n_iter {out.get('n_iter')}")
    stats = pstats.Stats(profiler)
    stats.sort_stats(args.sort).print_stats(args.lines)
    for name in ("gram", "subset", "take", "column_range"):
        stats.print_callers(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
