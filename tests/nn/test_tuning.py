"""validation_objective, SearchSpace and make_study: the tuning objective is the validation
deviance of a manual fit, deterministic under its seeds, and refuses bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from glmlib.families import get_family
from glmlib.nn import (
    LocalGLMnet,
    NeuralGLM,
    SearchSpace,
    make_study,
    validation_objective,
)

from .conftest import claims_frame

optuna = pytest.importorskip("optuna")

SMALL = dict(hidden_layer_sizes=(8, 4), max_epochs=3, batch_size=128, device="cpu")


@pytest.fixture(scope="module")
def parts():
    X, y, offset, _ = claims_frame(n=900, seed=3)
    return (X.iloc[:600], y[:600], offset[:600]), (X.iloc[600:], y[600:], offset[600:])


def objective_for(parts, estimator=None, **kwargs):
    (X, y, o), (Xv, yv, ov) = parts
    estimator = estimator if estimator is not None else NeuralGLM("poisson", **SMALL)
    return validation_objective(estimator, X, y, Xv, yv, offset=o, offset_val=ov, **kwargs)


def manual_deviance(parts, **params):
    """The same fit done by hand: the mean Poisson unit deviance on the validation rows."""
    (X, y, o), (Xv, yv, ov) = parts
    model = NeuralGLM("poisson", **{**SMALL, **params}).fit(X, y, offset=o)
    mu = model.predict(Xv, offset=ov)
    return float(np.mean(get_family("poisson").unit_deviance(yv, mu)))


def test_evaluate_equals_manual_fits_averaged_over_seeds(parts):
    objective = objective_for(parts, seeds=(0, 1))
    values = {"width": 16, "learning_rate": 3e-3}
    manual = [
        manual_deviance(parts, hidden_layer_sizes=(16, 8), learning_rate=3e-3, random_state=s)
        for s in (0, 1)
    ]
    # Same seeds, same data, same arithmetic: equal to float64 rounding of the mean.
    assert objective.deviances(values) == pytest.approx(manual, rel=1e-12, abs=0)
    assert objective.evaluate(values) == pytest.approx(np.mean(manual), rel=1e-12, abs=0)
    assert manual[0] != manual[1]  # the seeds matter, so the average is over distinct fits


def test_sample_weights_enter_the_validation_mean(parts):
    (X, y, o), (Xv, yv, ov) = parts
    w_val = np.linspace(0.5, 2.0, len(yv))
    objective = validation_objective(
        NeuralGLM("poisson", **SMALL),
        X,
        y,
        Xv,
        yv,
        offset=o,
        offset_val=ov,
        sample_weight_val=w_val,
        seeds=(0,),
    )
    model = NeuralGLM("poisson", **{**SMALL, "random_state": 0}).fit(X, y, offset=o)
    unit = get_family("poisson").unit_deviance(yv, model.predict(Xv, offset=ov))
    expected = float(np.sum(w_val * unit) / np.sum(w_val))
    assert objective.evaluate({"width": 8, "learning_rate": 1e-3}) == pytest.approx(
        expected, rel=1e-12
    )


def test_width_scales_every_layer_in_proportion(parts):
    objective = objective_for(parts)
    assert objective.params({"width": 64})["hidden_layer_sizes"] == (64, 32)
    assert objective.params({"width": 3})["hidden_layer_sizes"] == (3, 2)
    model = objective.estimator_for({"width": 20, "weight_decay": 1e-4}, random_state=5)
    assert model.hidden_layer_sizes == (20, 10)
    assert model.weight_decay == 1e-4 and model.random_state == 5
    assert not hasattr(model, "module_")


def test_a_fitted_template_is_left_as_it_is(parts):
    (X, y, o), _ = parts
    template = NeuralGLM("poisson", **{**SMALL, "random_state": 0}).fit(X, y, offset=o)
    module, weights = template.module_, [p.detach().clone() for p in template.module_.parameters()]
    objective = objective_for(parts, template, seeds=(1,))
    objective.evaluate({"width": 4, "learning_rate": 1e-2})
    assert template.module_ is module and template.hidden_layer_sizes == (8, 4)
    for before, after in zip(weights, template.module_.parameters(), strict=True):
        assert torch.equal(before, after)


def test_optuna_trial_returns_the_mean_and_records_each_seed(parts):
    objective = objective_for(parts, seeds=(0, 1))
    study = make_study("random", seed=0)
    study.optimize(objective, n_trials=2)
    for trial in study.trials:
        per_seed = trial.user_attrs["deviances"]
        assert len(per_seed) == 2
        assert trial.value == pytest.approx(np.mean(per_seed), rel=1e-12)
        # the trial's value is the deviance of a manual fit at the drawn values
        sizes = objective.params(trial.params)["hidden_layer_sizes"]
        manual = manual_deviance(
            parts,
            hidden_layer_sizes=sizes,
            learning_rate=trial.params["learning_rate"],
            random_state=0,
        )
        assert per_seed[0] == pytest.approx(manual, rel=1e-12)
        assert 8 <= trial.params["width"] <= 128
        assert 1e-4 <= trial.params["learning_rate"] <= 1e-2


@pytest.mark.parametrize("sampler", ["tpe", "random"])
def test_studies_are_deterministic_under_their_seeds(parts, sampler):
    objective = objective_for(parts, seeds=(0,))

    def run(seed):
        study = make_study(sampler, seed=seed, n_startup_trials=1)
        study.optimize(objective, n_trials=3)
        return [(t.params, t.value) for t in study.trials]

    first = run(0)
    assert run(0) == first
    assert [p for p, _ in run(1)] != [p for p, _ in first]


def test_tpe_proposes_from_the_model_after_startup():
    """On a known 1-d objective, TPE's proposals after startup concentrate near the optimum."""

    def bowl(trial):
        lr = trial.suggest_float("learning_rate", 1e-4, 1e-2, log=True)
        return (np.log10(lr) + 3.0) ** 2  # minimum at 1e-3

    gaps = {}
    for name in ("tpe", "random"):
        study = make_study(name, seed=0, n_startup_trials=5)
        study.optimize(bowl, n_trials=40)
        gaps[name] = np.median([t.value for t in study.trials[20:]])
    assert gaps["tpe"] < gaps["random"] / 2


def test_cann_and_local_glmnet_are_tuned_too(parts):
    cann = objective_for(parts, NeuralGLM("poisson", glm_skip=True, **SMALL), seeds=(0,))
    local = objective_for(parts, LocalGLMnet("poisson", **SMALL), seeds=(0,))
    for objective in (cann, local):
        value = objective.evaluate({"width": 8, "learning_rate": 1e-3})
        assert np.isfinite(value) and value > 0


def test_weight_decay_is_searched_when_asked(parts):
    space = SearchSpace(width=None, learning_rate=None, weight_decay=(1e-5, 1e-2))
    objective = objective_for(parts, space=space, seeds=(0,))
    study = make_study("random", seed=0)
    study.optimize(objective, n_trials=1)
    assert list(study.trials[0].params) == ["weight_decay"]


def test_bad_input(parts):
    (X, y, o), (Xv, yv, ov) = parts
    template = NeuralGLM("poisson", **SMALL)
    with pytest.raises(TypeError, match="glmlib.nn estimator"):
        validation_objective(object(), X, y, Xv, yv)
    with pytest.raises(ValueError, match="seeds is empty"):
        validation_objective(template, X, y, Xv, yv, seeds=())
    with pytest.raises(ValueError, match="seeds must differ"):
        validation_objective(template, X, y, Xv, yv, seeds=(1, 1))
    with pytest.raises(TypeError, match="seeds must be ints"):
        validation_objective(template, X, y, Xv, yv, seeds=(0.5,))
    with pytest.raises(ValueError, match="y_val"):
        validation_objective(template, X, y, Xv, yv[:-1])
    with pytest.raises(ValueError, match="offset_val"):
        validation_objective(template, X, y, Xv, yv, offset_val=ov[:-1])
    with pytest.raises(TypeError, match="SearchSpace"):
        validation_objective(template, X, y, Xv, yv, space={"width": (8, 16)})
    with pytest.raises(ValueError, match="no hidden layer"):
        validation_objective(NeuralGLM("poisson", hidden_layer_sizes=()), X, y, Xv, yv)
    with pytest.raises(ValueError, match="learning_rate"):
        validation_objective(NeuralGLM("poisson", learning_rate=-1.0), X, y, Xv, yv)
    with pytest.raises(ValueError, match="unknown hyperparameters"):
        objective_for(parts).params({"depth": 3})
    with pytest.raises(ValueError, match="log scale"):
        SearchSpace(learning_rate=(0.0, 1e-2))
    with pytest.raises(ValueError, match="low <= high"):
        SearchSpace(width=(64, 8))
    with pytest.raises(TypeError, match="ints"):
        SearchSpace(width=(8.0, 64.0))
    with pytest.raises(TypeError, match="pair"):
        SearchSpace(weight_decay=1e-3)
    with pytest.raises(ValueError, match="searches nothing"):
        SearchSpace(width=None, learning_rate=None)
    with pytest.raises(ValueError, match="'tpe' or 'random'"):
        make_study("grid")
    with pytest.raises(ValueError, match="n_startup_trials"):
        make_study("tpe", n_startup_trials=0)
