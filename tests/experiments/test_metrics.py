"""The experiment metrics against scikit-learn (tolerance 1e-12) and their input checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from glmlib.experiments import binary_metrics, count_metrics, summarize
from glmlib.experiments._metrics import expected_calibration_error, roc_auc


@pytest.fixture
def binary() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    p = rng.uniform(size=300)
    y = rng.binomial(1, p).astype(float)
    p[:20] = np.round(p[:20], 1)  # ties for the AUC
    return y, p


def test_binary_metrics_match_sklearn(binary: tuple[np.ndarray, np.ndarray]) -> None:
    y, p = binary
    got = binary_metrics(y, p)
    hat = (p >= 0.5).astype(int)
    want = {
        "accuracy": skm.accuracy_score(y, hat),
        "precision": skm.precision_score(y, hat),
        "recall": skm.recall_score(y, hat),
        "f1": skm.f1_score(y, hat),
        "log_loss": skm.log_loss(y, p),
        "auc": skm.roc_auc_score(y, p),
        "brier": skm.brier_score_loss(y, p),
    }
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key


def test_zero_division_and_single_class() -> None:
    y = np.array([0.0, 0.0, 1.0])
    got = binary_metrics(y, np.array([0.1, 0.2, 0.3]))  # no positive prediction
    assert got["precision"] == 0.0 and got["recall"] == 0.0 and got["f1"] == 0.0
    assert np.isnan(roc_auc(np.zeros(4), np.linspace(0, 1, 4)))


def test_ece_by_hand() -> None:
    # Bins [0.1, 0.2) and [0.9, 1.0]: |0.5 - 0.15| * 2/4 + |1 - 0.95| * 2/4.
    y = np.array([0.0, 1.0, 1.0, 1.0])
    p = np.array([0.1, 0.2 - 1e-9, 0.9, 1.0])
    want = 0.5 * abs(0.5 - (0.1 + 0.2 - 1e-9) / 2) + 0.5 * abs(1 - 0.95)
    assert expected_calibration_error(y, p) == pytest.approx(want, rel=1e-12)


def test_count_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(2)
    mu = rng.gamma(2.0, 2.0, size=200)
    y = rng.poisson(mu).astype(float)
    got = count_metrics(y, mu)
    assert got["r2"] == pytest.approx(skm.r2_score(y, mu), rel=1e-12)
    assert got["mse"] == pytest.approx(skm.mean_squared_error(y, mu), rel=1e-12)
    assert got["deviance"] == pytest.approx(skm.mean_poisson_deviance(y, mu), rel=1e-12)


@pytest.mark.parametrize(
    ("y", "p", "match"),
    [
        ([0, 1], [0.5], "differ in length"),
        ([0, 2], [0.5, 0.5], "0/1"),
        ([0, 1], [0.5, 1.5], r"\[0, 1\]"),
        ([0, 1], [np.nan, 0.5], "finite"),
        ([], [], "empty"),
    ],
)
def test_binary_bad_input(y: list, p: list, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        binary_metrics(y, p)


def test_count_bad_input() -> None:
    with pytest.raises(ValueError, match="positive"):
        count_metrics([1.0, 2.0], [1.0, 0.0])
    with pytest.raises(ValueError, match="non-negative"):
        count_metrics([-1.0, 2.0], [1.0, 1.0])


def test_summarize_interval() -> None:
    df = pd.DataFrame({"dataset": "a", "model": "m", "x": [1.0, 2.0, 3.0]})
    row = summarize(df, ["x"]).iloc[0]
    half = 4.302652729911275 * 1.0 / np.sqrt(3)  # t_{0.975, 2} * sd / sqrt(3)
    assert row["x"] == 2.0 and row["x_sd"] == pytest.approx(1.0)
    assert row["x_lo"] == pytest.approx(2.0 - half, rel=1e-9)
    assert row["repeats"] == 3
    with pytest.raises(ValueError, match="lack the columns"):
        summarize(df, ["nope"])
    with pytest.raises(TypeError, match="DataFrame"):
        summarize(df.to_dict(), ["x"])
