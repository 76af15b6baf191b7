"""The grid runner: determinism, validation inside training, recording and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from glmlib.experiments import (
    design,
    record,
    results_frame,
    run_grid,
    select_best,
    split,
)
from glmlib.experiments._domains import inner_split

TIMES = ["fit_seconds"]


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    return run_grid(["pima", "tweets"], ["glm", "ridge", "lightgbm"], repeats=2, quick=True)


def test_runner_is_deterministic(small: pd.DataFrame) -> None:
    again = run_grid(["pima", "tweets"], ["glm", "ridge", "lightgbm"], repeats=2, quick=True)
    pd.testing.assert_frame_equal(small.drop(columns=TIMES), again.drop(columns=TIMES))


def test_runner_rows_and_metrics(small: pd.DataFrame) -> None:
    assert len(small) == 2 * 3 * 2
    assert (small["error"] == "").all()
    sizes = small.groupby("dataset")[["n_train", "n_test"]].first()
    assert tuple(sizes.loc["tweets"]) == (480, 120)  # 80/20 of the 600-row quick subsample
    assert tuple(sizes.loc["pima"]) == (425, 107)  # pima has 532 rows, fewer than 600
    tuned = small[small["model"] != "glm"]
    assert tuned["log_loss"].between(0, 0.69).all()  # ridge and LightGBM beat log(2), chance
    assert small["auc"].between(0.5, 1).all()  # every model ranks better than chance
    # 1000 TF-IDF columns and 480 rows separate the classes: the unpenalised GLM diverges.
    tw = small[small["dataset"] == "tweets"].set_index(["repeat", "model"])["log_loss"]
    for r in (0, 1):
        assert tw[(r, "glm")] > 2 * tw[(r, "ridge")]
    assert set(small["seed"]) == {0, 1}


def test_select_best_uses_validation_only(small: pd.DataFrame) -> None:
    poisoned = small.copy()
    # Make the test score of every model absurd except the worst on validation:
    # the choice must not move.
    before = select_best(small)
    poisoned["log_loss"] = 100.0 - poisoned["val_score"]
    after = select_best(poisoned)
    assert list(before["model"]) == list(after["model"])
    means = small.groupby(["dataset", "model"])["val_score"].mean()
    for _, row in before.iterrows():
        assert row["val_score"] == pytest.approx(means[row["dataset"]].min())


def test_split_is_stratified_and_disjoint() -> None:
    s = split("default", 3)
    assert len(s.y_train) == 8000 and len(s.y_test) == 2000
    assert s.y_train.mean() == pytest.approx(s.y_test.mean(), abs=1e-3)
    inner = inner_split(s, 3)
    assert len(inner.y_train) + len(inner.y_test) == len(s.y_train)
    d = design(s)
    assert np.allclose(d.X_train[:, 0].mean(), 0) and np.allclose(d.X_train[:, 0].std(), 1)
    assert not np.allclose(d.X_test[:, 0].mean(), 0, atol=1e-6)  # test rows not re-centred


def test_record_round_trip(small: pd.DataFrame, tmp_path: Path) -> None:
    content = record(small, tmp_path / "r.json", {"repeats": 2}, 1.5)
    loaded = json.loads((tmp_path / "r.json").read_text())
    assert loaded["meta"]["wall_seconds"] == 1.5 and "commit" in loaded["meta"]
    back = results_frame(loaded)
    assert content["config"] == {"repeats": 2}
    assert np.allclose(back["log_loss"], small["log_loss"])


@pytest.mark.parametrize(
    ("kwargs", "err", "match"),
    [
        ({"datasets": ["nope"]}, ValueError, "unknown data sets"),
        ({"models": ["svm"]}, ValueError, "unknown models"),
        ({"repeats": 0}, ValueError, "repeats"),
        ({"seed": -1}, TypeError, "seed"),
        ({"quick": "yes"}, TypeError, "quick"),
    ],
)
def test_run_grid_bad_input(kwargs: dict, err: type[Exception], match: str) -> None:
    with pytest.raises(err, match=match):
        run_grid(**{"datasets": ["pima"], "models": ["glm"], **kwargs})


def test_split_bad_input() -> None:
    with pytest.raises(ValueError, match="unknown data set"):
        split("nope", 0)
    with pytest.raises(TypeError, match="seed"):
        split("pima", 1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_rows"):
        split("pima", 0, max_rows=5)
    with pytest.raises(ValueError, match="kind"):
        design(split("pima", 0), "cubic")
