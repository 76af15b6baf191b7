"""glmlib.book: the chapters' parameter checks (what passes, what fails, what the message says).

tests/test_notebooks.py checks that every chapter calls :func:`check_parameters`
right after its parameters cell, with a rule for each of its parameters.
"""

from __future__ import annotations

import math

import pytest

from glmlib.book import (
    STANDARD,
    Bool,
    Choice,
    Device,
    Int,
    ListOf,
    Optional,
    Real,
    check_parameters,
)

BASE = {"seed": 0, "quick": False, "device": "auto"}


@pytest.mark.parametrize(
    ("rule", "good", "bad_type", "bad_value"),
    [
        (Bool(), [True, False], [0, 1, "True", None], []),
        (Int(2), [2, 3, 10**9], [2.0, "5", True, None], [1, 0, -1]),
        (Int(1, 200), [1, 200], [1.5], [0, 201]),
        (Int(high=5), [-3, 5], [], [6]),
        (Real(0, 1), [0.3, 1e-9, 1 - 1e-9], ["0.3", None, True], [0.0, 1.0, -0.1, math.nan]),
        (Real(0), [1e-300, 5, 2.5], [], [0, -1, math.inf]),
        (Choice("auto", "pymc"), ["auto", "pymc"], [], ["nuts", "", None, 1]),
        (
            Device(),
            ["auto", "cpu", "cuda", "cuda:0", "cuda:12"],
            [0, None],
            ["tpu", "gpu", "cuda:", "cuda:x", "CPU", " cpu"],
        ),
        (Optional(Int(1)), [None, 1, 7], [1.5, "3"], [0]),
        (ListOf(Int(1)), [[1], [5, 7], (2, 3)], [5, "12", None], [[], [0], [1, 0]]),
    ],
)
def test_rules(rule, good, bad_type, bad_value):
    for value in good:
        rule.check("p", value)
    for value in bad_type:
        with pytest.raises(TypeError, match=r"parameter p(\[\d+\])? = "):
            rule.check("p", value)
    for value in bad_value:
        with pytest.raises(ValueError, match=r"parameter p(\[\d+\])? = "):
            rule.check("p", value)


def test_message_names_the_parameter_value_and_rule():
    with pytest.raises(ValueError) as err:
        check_parameters({**BASE, "n_folds": 0}, n_folds=Int(2))
    assert str(err.value) == "parameter n_folds = 0 is invalid: it must be an integer >= 2"
    with pytest.raises(
        ValueError, match=r"parameter device = 'tpu' is invalid: it must be \"auto\""
    ):
        check_parameters({**BASE, "device": "tpu"})
    with pytest.raises(
        TypeError, match=r"parameter test_fraction = '0.3' .* strictly between 0 and 1"
    ):
        check_parameters({**BASE, "test_fraction": "0.3"}, test_fraction=Real(0, 1))
    with pytest.raises(
        ValueError, match=r"parameter sizes\[1\] = 0 is invalid: it must be an integer >= 1"
    ):
        check_parameters({**BASE, "sizes": [5, 0]}, sizes=ListOf(Int(1)))


@pytest.mark.parametrize(
    ("name", "bad"), [("seed", -1), ("seed", 1.5), ("quick", "yes"), ("device", "gpu")]
)
def test_standard_parameters_are_always_checked(name, bad):
    assert set(STANDARD) == {"seed", "quick", "device"}
    with pytest.raises((TypeError, ValueError), match=f"parameter {name} = "):
        check_parameters({**BASE, name: bad})


def test_valid_parameters_pass_and_missing_ones_are_named():
    check_parameters({**BASE, "n_folds": 5, "extra": object()}, n_folds=Int(2))
    with pytest.raises(ValueError, match="parameter n_boot is not defined"):
        check_parameters(BASE, n_boot=Int(1))
    with pytest.raises(ValueError, match="parameter quick is not defined"):
        check_parameters({"seed": 0, "device": "cpu"})
    with pytest.raises(TypeError, match="the rule for n_folds must be a glmlib.book.Rule"):
        check_parameters({**BASE, "n_folds": 5}, n_folds=int)


def test_glue_stores_a_value_with_myst_nb(monkeypatch):
    import myst_nb

    from glmlib.book import glue

    glued = []
    monkeypatch.setattr(myst_nb, "glue", lambda n, v, display: glued.append((n, v, display)))
    glue("rate", 0.25)
    glue("shown", 3, display=True)
    assert glued == [("rate", 0.25, False), ("shown", 3, True)]


def test_glue_without_myst_nb_does_nothing(monkeypatch):
    import sys

    from glmlib.book import glue

    monkeypatch.setitem(sys.modules, "myst_nb", None)  # as on Colab: import fails
    assert glue("rate", 0.25) is None
