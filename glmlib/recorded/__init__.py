"""Recorded results: figures measured elsewhere, shipped with the package.

Some of the book's figures cannot be measured where the book is built: GPU
timings (the project's lent H200) and runs too long for CI. They are measured
by one command (``make gpu-check`` for the GPU), written as one JSON file per
topic under this folder (``gpu/engine.json``, ``gpu/gram.json``, ...) and
never edited by hand. Every file has a ``meta`` block: the device, the date,
the glmlib commit the code ran at, and package versions.

Chapters read them with :func:`load` and label each figure with
:func:`caption`, so a reader sees where and when a number was measured and
never takes it for a measurement on their own machine.

Examples
--------
>>> from glmlib import recorded
>>> record = recorded.load("gpu/engine")  # doctest: +SKIP
>>> recorded.caption(record)  # doctest: +SKIP
'measured on NVIDIA H200 (CUDA 13.0, driver 580.159.04), 2026-12-04, glmlib commit 43f0080'
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

__all__ = ["caption", "load", "topics"]


def topics() -> list[str]:
    """The recorded topics, as ``"folder/name"`` strings (``"gpu/engine"``, ...)."""
    root = resources.files(__name__)
    found = []
    for folder in root.iterdir():
        if folder.is_dir() and not folder.name.startswith("_"):
            found += [
                f"{folder.name}/{f.name[:-5]}" for f in folder.iterdir() if f.name.endswith(".json")
            ]
    return sorted(found)


def load(topic: str) -> dict[str, Any]:
    """The recorded results of one topic.

    Parameters
    ----------
    topic : str
        ``"folder/name"``, one of :func:`topics`.

    Returns
    -------
    dict
        The file's content: a ``meta`` block and the topic's figures.

    Raises
    ------
    ValueError
        For a topic that is not recorded (the message lists those that are).
    """
    if not isinstance(topic, str) or topic not in topics():
        raise ValueError(f"no recorded results for {topic!r}; recorded topics: {topics()}")
    folder, name = topic.split("/")
    text = resources.files(__name__).joinpath(folder, f"{name}.json").read_text()
    return dict(json.loads(text))


def caption(record: dict[str, Any]) -> str:
    """One line naming where and when a record was measured, for a figure's caption."""
    meta = record.get("meta")
    if not isinstance(meta, dict):
        raise ValueError("a recorded result needs a 'meta' block (device, date, commit)")
    device = meta.get("device", {})
    name = device.get("name", "an unnamed device")
    smi = str(device.get("nvidia_smi", ""))
    driver = smi.split(",")[1].strip() if smi.count(",") >= 2 else None
    details = ", ".join(
        d
        for d in (
            f"CUDA {device['cuda']}" if device.get("cuda") else None,
            f"driver {driver}" if driver else None,
        )
        if d
    )
    where = f"{name} ({details})" if details else name
    return f"measured on {where}, {meta.get('date', 'date unknown')}, glmlib commit {str(meta.get('commit', 'unknown'))[:7]}"
