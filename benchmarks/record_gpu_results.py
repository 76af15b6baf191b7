"""Copy ``make gpu-check``'s JSON files into the package's recorded results.

``gpu_check.py`` writes ``gpu_<topic>.json`` files (each with its ``meta``
block); this copies them to ``glmlib/recorded/gpu/<topic>.json``, unchanged
except where ``--commit`` corrects the commit that the device reported (the
device machine receives a copy of the working tree whose ``.git`` may lag
behind the commit actually sent; the first H200 run recorded the session's
starting commit this way). A correction is written into the record itself
(``meta.commit_reported`` and ``meta.commit_note``), never silently.

Usage::

    python benchmarks/record_gpu_results.py DIR [--topics engine gram] [--commit SHA --why TEXT]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

TARGET = Path(__file__).resolve().parent.parent / "glmlib" / "recorded" / "gpu"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("source", type=Path, help="the folder gpu_check.py wrote (its --out)")
    ap.add_argument("--topics", nargs="*", help="only these topics (default: all found)")
    ap.add_argument("--commit", help="the commit the code really ran at")
    ap.add_argument("--why", help="why the reported commit is corrected (required with --commit)")
    args = ap.parse_args()
    if args.commit and not args.why:
        ap.error("--commit needs --why")
    TARGET.mkdir(parents=True, exist_ok=True)
    for path in sorted(args.source.glob("gpu_*.json")):
        topic = path.stem[len("gpu_") :]
        if args.topics and topic not in args.topics:
            continue
        record = json.loads(path.read_text())
        if args.commit and record["meta"].get("commit") != args.commit:
            record["meta"]["commit_reported"] = record["meta"].get("commit")
            record["meta"]["commit"] = args.commit
            record["meta"]["commit_note"] = args.why
        (TARGET / f"{topic}.json").write_text(json.dumps(record, indent=1) + "\n")
        print(f"{path} -> {TARGET / f'{topic}.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
