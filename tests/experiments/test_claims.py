"""The claims' verdict logic on synthetic results with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from glmlib.experiments import claim_comparisons, claims_table, verdict
from glmlib.experiments._claims import compare, gpu_speedups


def _results(gain: dict[str, float], repeats: int = 4) -> pd.DataFrame:
    """Synthetic grid: each model's log-loss is 0.5 - gain[model] + small noise."""
    rows = []
    rng = np.random.default_rng(0)
    for ds in ("pima", "breast_cancer", "smarket", "tweets"):
        for r in range(repeats):
            noise = rng.normal(0, 1e-3)
            for m, g in gain.items():
                ll = 0.5 - g + noise + rng.normal(0, 1e-4)
                rows.append(
                    {
                        "dataset": ds,
                        "task": "binary",
                        "model": m,
                        "repeat": r,
                        "log_loss": ll,
                        "val_score": ll,
                        "fit_seconds": {"gam": 1.0, "bayes": 10.0}.get(m, 0.1),
                    }
                )
    return pd.DataFrame(rows)


def test_verdict_rules() -> None:
    assert verdict([["better", "better"]]) == "supported"
    assert verdict([["tie", "worse"]]) == "not supported"
    assert verdict([["better", "worse"]]) == "mixed"
    assert verdict([["unmeasured"]]) == "not measured"
    assert verdict([["better"], ["tie"]]) == "mixed"  # two-part claim, one part holds
    assert verdict([["better", "unmeasured"]]) == "supported"
    with pytest.raises(ValueError, match="unknown outcomes"):
        verdict([["great"]])
    with pytest.raises(TypeError, match="str"):
        verdict("better")


def test_compare_paired_difference() -> None:
    res = _results({"glm": 0.0, "lasso": 0.05})
    c = compare(res, "lasso", "glm", "pima", "primary")
    assert c["metric"] == "log_loss" and c["repeats"] == 4
    assert c["diff"] == pytest.approx(-0.05, abs=1e-3)
    assert c["hi"] < 0
    t = compare(res, "lasso", "glm", "pima", "fit_seconds")
    assert t["diff"] == pytest.approx(1.0)


def test_claims_table_verdicts_follow_the_data() -> None:
    gains = {"glm": 0.0, "lasso": 0.05, "ridge": 0.04, "enet": 0.045, "fe_glm": -0.1}
    gains |= {"fe_enet": 0.02, "gam": 0.0, "bayes": 0.0}
    table = claims_table(_results(gains), gpu_records={}).set_index("claim")["verdict"]
    assert table["regularisation"] == "supported"  # lasso beats glm on both collinear sets
    assert table["feature_engineering"] == "supported"  # fe_enet beats fe_glm everywhere
    assert table["interactions"] == "mixed"  # fe_glm worse, fe_enet better on smarket
    assert table["gam"] == "mixed"  # slower but not more accurate
    assert table["bayes"] == "supported"  # competitive and slower
    assert table["gpu"] == "not measured"
    worse = claims_table(_results({**gains, "lasso": -0.05, "ridge": -0.05, "enet": -0.05}), {})
    assert worse.set_index("claim").loc["regularisation", "verdict"] == "not supported"


def test_gpu_claim_from_records() -> None:
    record = {
        "meta": {"device": {"name": "GPU X"}, "date": "2026-01-01", "commit": "abcdef123"},
        "l2": {"n": 10, "p": 2, "fit_seconds": 0.5, "glmlib_cpu_seconds": 5.0},
    }
    (s,) = gpu_speedups({"gpu/engine": record})
    assert s["speedup"] == pytest.approx(10.0)
    table = claims_table(_results({"glm": 0.0}), {"gpu/engine": record})
    row = table.set_index("claim").loc["gpu"]
    assert row["verdict"] == "supported" and "GPU X" in row["numbers"]


def test_claims_table_bad_input() -> None:
    with pytest.raises(ValueError, match="columns"):
        claims_table(pd.DataFrame({"x": [1]}), {})


def test_claim_comparisons_relative_changes() -> None:
    gains = {"glm": 0.0, "lasso": 0.05, "ridge": 0.04, "enet": 0.045, "gam": 0.0, "bayes": 0.0}
    comps = claim_comparisons(_results(gains))
    reg = comps[comps["claim"] == "regularisation"].set_index("dataset")
    assert set(reg.index) == {"breast_cancer", "tweets"}  # the claim's data sets present
    # best regularised (lasso, gain 0.05) vs glm: -0.05 on a baseline log-loss of about 0.5
    assert reg["relative"].to_numpy() == pytest.approx([-0.1, -0.1], abs=5e-3)
    assert (reg["outcome"] == "better").all()
    assert (reg["relative_lo"] <= reg["relative"]).all() and (
        reg["relative"] <= reg["relative_hi"]
    ).all()
    # times: gam 1.0 s vs glm 0.1 s is a ratio of 10, a relative change of +9
    gam_time = comps[(comps["claim"] == "gam") & (comps["metric"] == "fit_seconds")]
    assert gam_time["relative"].to_numpy() == pytest.approx(9.0)
    # the smarket-only claim has its data set; a claim without any is one unmeasured row
    fe = comps[comps["claim"] == "feature_engineering"]
    assert (fe["outcome"] == "unmeasured").all()  # no fe_* models in these results
    # the table's verdicts are the comparisons' outcomes
    table = claims_table(_results(gains), gpu_records={}).set_index("claim")
    assert table.loc["regularisation", "verdict"] == "supported"
    with pytest.raises(ValueError, match="columns"):
        claim_comparisons(pd.DataFrame({"x": [1]}))
