"""Recorded results (``glmlib/recorded``): every topic loads, carries its provenance, and captions name it."""

from __future__ import annotations

import re

import pytest

from glmlib import recorded


def test_every_topic_has_device_date_and_commit():
    assert recorded.topics(), "no recorded results are shipped"
    for topic in recorded.topics():
        meta = recorded.load(topic)["meta"]
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", meta["date"]), topic
        assert re.fullmatch(r"[0-9a-f]{40}", meta["commit"]), topic
        assert meta["device"]["name"], topic
        assert meta["versions"]["torch"], topic


def test_caption_names_device_date_and_short_commit():
    record = recorded.load("gpu/engine")
    text = recorded.caption(record)
    meta = record["meta"]
    assert meta["device"]["name"] in text
    assert meta["date"] in text
    assert meta["commit"][:7] in text


def test_unknown_topic_and_missing_meta_raise():
    with pytest.raises(ValueError, match="recorded topics"):
        recorded.load("gpu/nothing")
    with pytest.raises(ValueError, match="meta"):
        recorded.caption({"figures": []})


def test_gpu_check_record_is_consistent():
    """The recorded gpu-check: every gpu test ran, and the engine figures agree with each other."""
    check = recorded.load("gpu/check")["tests"]
    assert check["tests"] > 0 and check["skipped"] == 0
    assert check["failures"] + check["errors"] == len(check["failed"])
    l2 = recorded.load("gpu/engine")["l2"]
    assert l2["fit_seconds_per_iteration"] == pytest.approx(
        l2["fit_seconds"] / l2["fit_iterations"]
    )
    assert l2["speedup_vs_glum"] == pytest.approx(l2["glum_cpu_seconds"] / l2["fit_seconds"])
