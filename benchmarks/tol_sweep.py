"""Choose each library's tolerance for bench_glm.py: objective gap against tolerance.

For every problem (at ``--scale`` of the full size) and every runner of
bench_glm.py, fit on a ladder of tolerances, score each solution with
bench_glm's common objective and report, per runner, the loosest tolerance
whose objective is within ``--target`` (relative) of the best objective any
library reached. Each fit runs in a forked child as in bench_glm.py (killed
after ``--max-seconds``, which ends that runner's ladder); a ladder also ends
once two successive tolerances at or below 1e-8 give the same objective.

    python benchmarks/tol_sweep.py --threads 1 --scale 0.1 --out /tmp/tol_sweep.json
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _threads import apply_thread_limit  # noqa: E402  (before NumPy loads)

if __name__ == "__main__":
    apply_thread_limit(sys.argv)

import numpy as np  # noqa: E402
from bench_glm import PROBLEMS, make_problem, objectives, run_once, runners  # noqa: E402

LADDER = (1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-10, 1e-12)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--problems", nargs="+", default=list(PROBLEMS), choices=PROBLEMS)
    ap.add_argument("--scale", type=float, default=0.1, help="fraction of the full rows")
    ap.add_argument("--target", type=float, default=1e-7, help="relative objective gap allowed")
    ap.add_argument("--max-seconds", type=float, default=120.0, help="kill a fit after this long")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--skip", nargs="*", default=[], help="runner labels to leave out")
    ap.add_argument("--out")
    args = ap.parse_args()
    report = {}
    for name in args.problems:
        prob = make_problem(name, scale=args.scale)
        print(f"\n## {name}: {prob.description}", flush=True)
        fits = []
        for r in runners():
            if r.applies(prob) is not None or r.label in args.skip:
                continue
            for tol in LADDER:
                status, value = run_once(replace(r, tol=tol), prob, args.max_seconds)
                if status != "ok":
                    print(
                        f"  {r.label:<36s} tol={tol:.0e}: {status} {str(value)[-200:]}", flush=True
                    )
                    break
                obj = objectives(prob, value["fit"])
                fits.append(
                    {
                        "label": r.label,
                        "tol": tol,
                        "seconds": value["seconds"],
                        "obj": obj,
                        "cw": value["convergence_warning"],
                    }
                )
                cw = "  (ConvergenceWarning)" if value["convergence_warning"] else ""
                print(f"  {r.label:<36s} tol={tol:.0e}: {value['seconds']:7.2f} s{cw}", flush=True)
                prev = [f for f in fits if f["label"] == r.label][-2:-1]
                if (
                    tol <= 1e-8
                    and prev
                    and np.all(np.abs(obj - prev[0]["obj"]) <= 1e-13 * np.abs(obj))
                ):
                    break  # converged: tighter tolerances only cost time
        best = np.min(np.vstack([f["obj"] for f in fits]), axis=0)
        rows = []
        for f in fits:
            gap = float(np.max((f["obj"] - best) / np.abs(best)))
            rows.append({k: f[k] for k in ("label", "tol", "seconds", "cw")} | {"gap": gap})
        print()
        chosen = {}
        for label in dict.fromkeys(r["label"] for r in rows):
            mine = [r for r in rows if r["label"] == label]
            line = "  ".join(f"{r['tol']:.0e}:{r['gap']:.1e}/{r['seconds']:.2f}s" for r in mine)
            ok = [r for r in mine if r["gap"] <= args.target]
            pick = max(ok, key=lambda r: r["tol"]) if ok else None
            chosen[label] = pick["tol"] if pick else None
            print(f"  {label:<36s} pick {pick['tol'] if pick else 'none':<8}  {line}")
        report[name] = {"description": prob.description, "rows": rows, "chosen": chosen}
        if args.out:
            with open(args.out, "w") as fh:
                json.dump(report, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
