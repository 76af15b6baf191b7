"""Run the full experiment grid of chapter 9 and record it (``make experiments``).

Writes ``glmlib/recorded/experiments/full.json``: one row per data set, model
and repeat, with the machine, date, commit, package versions and the run's
wall time in its ``meta`` block. One thread per process (OMP_NUM_THREADS=1 and
friends are set before numpy is imported) so that training times compare
models, not thread counts; the project's machine is shared, so run it with
``nice`` and read times as indicative.

Usage::

    python benchmarks/run_experiments.py --repeats 3 [--out PATH] [--datasets a b] [--models m n]
    python benchmarks/run_experiments.py --combine A.json B.json --out PATH

``--combine`` joins records of the same grid run as parallel processes (for
example one per group of data sets, at the same commit) into one record: the
results are concatenated, the meta block is the first record's with the
longest wall time of the parts (``total_process_seconds`` is their sum), and
``config["parts"]`` lists what each part ran, with its row cap (parts may
subsample differently; ``config["max_rows"]`` is the largest cap).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402

from glmlib.experiments import DOMAINS, MODELS, record, run_grid  # noqa: E402

#: Order of the full run: the data sets the claims need most come first.
ORDER = ["smarket", "breast_cancer", "tweets", "pima", "nmes1988", "default"]


def combine(paths: list[Path], out: Path, note: str = "") -> None:
    """Join recorded parts of one grid (same commit and settings) into one record."""
    import json

    parts = [json.loads(p.read_text()) for p in paths]
    commits = {p["meta"]["commit"] for p in parts}
    if len(commits) != 1:
        raise SystemExit(f"parts ran at different commits: {sorted(commits)}")
    keys = ("models", "repeats", "seed", "quick")
    if len({json.dumps([p["config"].get(k) for k in keys]) for p in parts}) != 1:
        raise SystemExit("parts ran with different settings")
    config = dict(parts[0]["config"])
    config["completed"] = [d for p in parts for d in p["config"]["completed"]]
    config["datasets"] = list(config["completed"])
    config["parts"] = [
        {
            "datasets": p["config"]["completed"],
            "max_rows": p["config"]["max_rows"],
            "wall_seconds": p["meta"]["wall_seconds"],
        }
        for p in parts
    ]
    sizes = [p["config"]["max_rows"] for p in parts]
    config["max_rows"] = None if None in sizes else max(sizes)
    config["note"] += f"; {len(parts)} parts run in parallel processes" + (
        f"; {note}" if note else ""
    )
    content = {
        "meta": {
            **parts[0]["meta"],
            "wall_seconds": max(p["meta"]["wall_seconds"] for p in parts),
            "total_process_seconds": sum(p["meta"]["wall_seconds"] for p in parts),
        },
        "config": config,
        "results": [row for p in parts for row in p["results"]],
    }
    out.write_text(json.dumps(content, indent=1) + "\n")
    print(f"wrote {out}: {len(content['results'])} fits from {len(parts)} parts")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--max-rows", type=int, default=None)
    parser.add_argument("--datasets", nargs="*", default=[*ORDER, *(set(DOMAINS) - set(ORDER))])
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    parser.add_argument(
        "--out", type=Path, default=ROOT / "glmlib" / "recorded" / "experiments" / "full.json"
    )
    parser.add_argument("--combine", nargs="+", type=Path, default=None)
    parser.add_argument("--note", default="", help="appended to the record's config note")
    args = parser.parse_args()
    if args.combine:
        combine(args.combine, args.out, args.note)
        return
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    t0 = time.perf_counter()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    parts = []
    # One data set at a time, the record rewritten after each, so that an
    # interrupted run leaves an honest partial record (config["completed"]).
    for name in args.datasets:
        parts.append(
            run_grid(
                [name],
                args.models,
                args.repeats,
                quick=args.quick,
                seed=args.seed,
                max_rows=args.max_rows,
                progress=lambda line: print(
                    f"[{time.perf_counter() - t0:7.1f}s] {line}", flush=True
                ),
            )
        )
        results = pd.concat(parts, ignore_index=True)
        wall = time.perf_counter() - t0
        done = list(dict.fromkeys(results["dataset"]))
        config = {
            "datasets": args.datasets,
            "completed": done,
            "models": args.models,
            "repeats": args.repeats,
            "seed": args.seed,
            "quick": args.quick,
            "max_rows": args.max_rows,
            "note": "shared 2-core machine (other jobs running), one thread, run under nice",
        }
        record(results, args.out, config, wall)
        failed = int((results["error"] != "").sum())
        print(f"wrote {args.out} ({done}): {len(results)} fits, {failed} failed, wall {wall:.0f}s")


if __name__ == "__main__":
    main()
