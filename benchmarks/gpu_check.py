"""``make gpu-check``: every GPU check and measurement of glmlib and the book, in one command.

Run on a machine with a CUDA GPU (the project's lent H200, or a reader's own).
Within a time budget (default 8 minutes) it runs, in order of importance:

1. the environment: GPU, driver, Python and package versions;
2. every ``gpu``-marked test (``pytest -m gpu``), with a JUnit report;
3. ``bench_gpu.py``: the engine's GPU problem (n = 1e7, p = 100 float32
   logistic, L2 then L1) against the HBM bound, glum and glmlib on the CPUs;
4. ``bench_gpu_gram.py``: GEMM rates per precision and the Gram roofline;
   ``bench_mixed.py``: fits in "double", "single" and "mixed" precision;
   ``bench_streaming.py``: X streamed from pinned host memory (H2D fraction,
   a fit under an artificial device-memory cap, CuPy managed memory);
   ``bench_inference.py --torch --device cuda``: predict latency and throughput
   (NumPy and ONNX Runtime on the CPUs, PyTorch eager / compiled / CUDA graphs);
5. ``bench_gpu_scaling.py``: CPU against GPU from n = 1e4 to 1e7, and the
   largest n the device holds;
6. the chapters that run on the device's packages, as scripts with
   ``device="cuda"`` and ``quick=True``.

A step is skipped, and says so, when too little of the budget is left. The
results are written to ``--out`` as recorded results (``gpu_check.json``,
``gpu_engine.json``, ``gpu_gram.json``, ``gpu_scaling.json``; each with a
``meta`` block: device, date, commit, versions), the JUnit report and the log.
Copy the JSON files into ``glmlib/recorded/gpu/`` (dropping the ``gpu_``
prefix) to commit them; :func:`glmlib.recorded.load` reads them there.

Usage::

    make gpu-check                                   # writes _build/gpu-check/
    python benchmarks/gpu_check.py --out DIR --commit SHA --budget 480
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Every test module with a ``gpu`` mark, found when the check runs: a fixed list left
# out the neural-GLM tests and the NCCL fit of tests/test_distributed.py.
GPU_MARK = re.compile(r"^\s*(@pytest\.mark\.gpu|pytestmark\s*=.*pytest\.mark\.gpu)", re.M)


def gpu_test_files(root: Path = ROOT) -> list[str]:
    """The test modules, relative to ``root``, that hold at least one ``gpu``-marked test."""
    files = sorted((root / "tests").rglob("test_*.py"))
    return [str(f.relative_to(root)) for f in files if GPU_MARK.search(f.read_text())]


# Every chapter, in the order of their value on a GPU; one whose imports the device
# lacks is skipped and says which (carry those packages as wheels to run it).
CHAPTERS = [
    "06_scaling_cublas_nccl",
    "07_neural_glms",
    "08_tensor_cores_mixed_precision",
    "01_introduction",
    "02_regularization",
    "03_feature_engineering",
    "04_generalized_additive_models",
    "05_bayesian_glms",
]
PACKAGES = ["glmlib", "torch", "cupy", "numpy", "scipy", "scikit-learn", "glum", "numba", "pandas"]


class Runner:
    """Runs steps as subprocesses under one overall deadline, logging everything."""

    def __init__(self, out: Path, budget: float) -> None:
        self.out = out
        self.deadline = time.monotonic() + budget
        self.log = open(out / "gpu_check.log", "w")  # noqa: SIM115 (closed in main)
        self.steps: list[dict[str, Any]] = []

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def say(self, text: str) -> None:
        print(text, flush=True)
        self.log.write(text + "\n")
        self.log.flush()

    def run(self, name: str, cmd: list[str], limit: float, need: float, **kw: Any) -> int | None:
        """Run `cmd` for at most `limit` seconds, if at least `need` seconds of budget remain."""
        if self.left() < need:
            self.say(f"== {name}: SKIPPED ({self.left():.0f} s of budget left, needs {need:.0f})")
            self.steps.append({"step": name, "status": "skipped"})
            return None
        limit = min(limit, self.left())
        self.say(f"== {name} (limit {limit:.0f} s): {' '.join(cmd)}")
        t0 = time.monotonic()
        try:
            done = subprocess.run(
                cmd,
                cwd=kw.pop("cwd", ROOT),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=limit,
                **kw,
            )
            rc, text = done.returncode, done.stdout
        except subprocess.TimeoutExpired as exc:
            rc, text = (
                124,
                (exc.stdout or b"").decode()
                if isinstance(exc.stdout, bytes)
                else (exc.stdout or ""),
            )
        seconds = time.monotonic() - t0
        self.log.write(text)
        tail = "\n".join(text.strip().splitlines()[-8:])
        self.say(f"{tail}\n-- {name}: rc={rc} in {seconds:.1f} s")
        self.steps.append(
            {"step": name, "status": "ok" if rc == 0 else f"rc={rc}", "seconds": seconds}
        )
        return rc


def versions() -> dict[str, str]:
    import importlib

    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            module = importlib.import_module(name.replace("scikit-learn", "sklearn"))
            out[name] = str(getattr(module, "__version__", "unknown"))
        except ImportError:
            out[name] = "not installed"
    return out


def device_info() -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {"cuda_available": torch.cuda.is_available()}
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info.update(
            name=props.name,
            count=torch.cuda.device_count(),
            memory_bytes=props.total_memory,
            multiprocessors=props.multi_processor_count,
            capability=f"{props.major}.{props.minor}",
            cuda=torch.version.cuda,
        )
    try:
        smi = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
        )
        info["nvidia_smi"] = smi.stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        info["nvidia_smi"] = "unavailable"
    info["cpu_count"] = os.cpu_count()
    return info


def junit_summary(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"report": "missing"}
    root = ET.parse(path).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    assert suite is not None
    failed = []
    for case in suite.iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed.append(f"{case.get('classname')}::{case.get('name')}")
    return {
        "tests": int(suite.get("tests", 0)),
        "failures": int(suite.get("failures", 0)),
        "errors": int(suite.get("errors", 0)),
        "skipped": int(suite.get("skipped", 0)),
        "seconds": float(suite.get("time", 0.0)),
        "failed": failed,
    }


def chapter_script(name: str, workdir: Path) -> Path:
    """The chapter's py:percent source with device="cuda" and quick=True set after its parameters."""
    source = (ROOT / "notebooks" / f"{name}.py").read_text()
    marker = re.search(r'^# %% tags=\["parameters"\]\n(?:.*\n)*?(?=^# %%)', source, re.M)
    if marker is None:
        raise ValueError(f"{name}: no parameters cell")
    override = 'device = "cuda"\nquick = True\n\n'
    script = source[: marker.end()] + override + source[marker.end() :]
    path = workdir / f"{name}.py"
    path.write_text(script)
    return path


def missing_imports(path: Path) -> list[str]:
    """Top-level modules a chapter imports that this Python cannot find (helpers beside it aside)."""
    import ast
    import importlib.util

    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module.split(".")[0])
    here = {p.stem for p in path.parent.glob("*.py")}
    optional = {"cupy"}  # imported inside try: the chapter runs without it
    return sorted(
        m
        for m in modules - here - optional - set(sys.stdlib_module_names)
        if importlib.util.find_spec(m) is None
    )


def read_json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.exists() else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="_build/gpu-check")
    ap.add_argument("--budget", type=float, default=480.0, help="seconds for everything")
    ap.add_argument("--commit", default=os.environ.get("GLMLIB_COMMIT", "unknown"))
    ap.add_argument("--skip", nargs="*", default=[], help="step names to leave out")
    args = ap.parse_args()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    run = Runner(out, args.budget)
    py = sys.executable
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": f"{ROOT}:{os.environ.get('PYTHONPATH', '')}",
    }
    meta = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d"),
        "commit": args.commit,
        "device": device_info(),
        "versions": versions(),
        "command": "make gpu-check",
    }
    run.say(json.dumps(meta, indent=1))
    if not meta["device"]["cuda_available"]:
        run.say("no CUDA device visible: gpu-check needs a GPU")
        return 2
    wanted = lambda step: step not in args.skip  # noqa: E731

    if wanted("tests"):
        # A module that cannot be imported on the device must not stop the others' tests.
        pytest = [py, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider", "-o", "addopts="]
        pytest.append("--continue-on-collection-errors")
        junit = f"--junitxml={out / 'gpu_tests.xml'}"
        run.run("tests", [*pytest, junit, *gpu_test_files()], limit=200, need=30, env=env)
    bench = ROOT / "benchmarks"
    engine = [str(bench / "bench_gpu.py"), "--glum", "--repeats", "3"]
    # (step, topic, key, script and arguments, limit, need): a step's JSON goes
    # under `key` in the topic's file.
    steps = [
        (
            "engine_l2",
            "engine",
            "l2",
            [*engine, "--cpu", "--alpha", "1e-4", "--l1-ratio", "0"],
            150,
            60,
        ),
        ("profile", None, None, [str(bench / "profile_gpu.py")], 60, 30),
        (
            "gram_batches",
            "gram_batches",
            None,
            [str(bench / "bench_gpu_gram.py"), "--design-only", "--p", "50", "100", "300"],
            60,
            25,
        ),
        ("gram", "gram", None, [str(bench / "bench_gpu_gram.py")], 120, 40),
        (
            "mixed",
            "mixed",
            None,
            [
                str(bench / "bench_mixed.py"),
                "--n",
                "2000000",
                "--p",
                "1000",
                "--kappas",
                "10",
                "1000",
            ],
            120,
            40,
        ),
        (
            "streaming",
            "streaming",
            None,
            [
                str(bench / "bench_streaming.py"),
                "--device",
                "cuda",
                "--n",
                "10000000",
                "--p",
                "100",
                "--cap-gib",
                "3",
                "--repeats",
                "2",
            ],
            150,
            60,
        ),
        (
            "inference",
            "inference",
            None,
            [str(bench / "bench_inference.py"), "--torch", "--device", "cuda"],
            150,
            60,
        ),
        (
            "scaling",
            "scaling",
            None,
            [str(bench / "bench_gpu_scaling.py"), "--repeats", "1", "--max-seconds", "40"],
            120,
            50,
        ),
        ("engine_l1", "engine", "l1", [*engine, "--alpha", "0.01", "--l1-ratio", "1"], 100, 45),
    ]
    topics: dict[str, dict[str, Any]] = {}
    for step, topic, key, cmd, limit, need in steps:
        if not wanted(step):
            continue
        path = out / f"{step}.json"
        json_out = ["--out", str(path)] if topic else []
        run.run(step, [py, *cmd, *json_out], limit=limit, need=need, env=env)
        result = read_json(path)
        path.unlink(missing_ok=True)
        if topic and result is not None:
            if key:
                topics.setdefault(topic, {})[key] = result
            else:
                topics[topic] = result
    chapters = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in CHAPTERS:
            if not wanted(name):
                continue
            missing = missing_imports(ROOT / "notebooks" / f"{name}.py")
            if missing:
                run.say(f"== chapter {name}: SKIPPED (not installed here: {', '.join(missing)})")
                chapters.append({"chapter": name, "status": f"skipped: missing {missing}"})
                continue
            script = chapter_script(name, Path(tmp))
            t0 = time.monotonic()
            rc = run.run(
                f"chapter {name}",
                [py, str(script)],
                limit=150,
                need=45,
                env={**env, "MPLBACKEND": "Agg"},
                cwd=ROOT / "notebooks",
            )
            chapters.append(
                {
                    "chapter": name,
                    "device": "cuda",
                    "quick": True,
                    "status": "skipped" if rc is None else ("ok" if rc == 0 else f"rc={rc}"),
                    "seconds": None if rc is None else time.monotonic() - t0,
                }
            )

    def write(topic: str, data: Any) -> None:
        with open(out / f"gpu_{topic}.json", "w") as fh:
            json.dump({"meta": meta, **data}, fh, indent=1, default=float)

    write(
        "check",
        {"tests": junit_summary(out / "gpu_tests.xml"), "chapters": chapters, "steps": run.steps},
    )
    for topic, data in topics.items():
        write(topic, data)
    run.say("== summary")
    for step in run.steps:
        run.say(f"{step['step']:40s} {step['status']:10s} {step.get('seconds', 0):7.1f} s")
    run.log.close()
    return 0 if all(s["status"] in ("ok", "skipped") for s in run.steps) else 1


if __name__ == "__main__":
    sys.exit(main())
