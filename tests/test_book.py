"""glmlib.book: the chapters' parameter checks (what passes, what fails, what the message says).

tests/test_notebooks.py checks that every chapter calls :func:`check_parameters`
right after its parameters cell, with a rule for each of its parameters.
"""

from __future__ import annotations

import math
import sys

import numpy as np
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


def test_glue_stores_the_value_for_the_prose(monkeypatch: pytest.MonkeyPatch) -> None:
    import myst_nb

    from glmlib.book import glue

    glued = []
    monkeypatch.setattr(
        myst_nb, "glue", lambda name, value, display: glued.append((name, value, display))
    )
    glue("n_rows", 532)
    glue("shown", 0.5, display=True)
    glue("gap", np.float64(0.25))
    assert glued == [("n_rows", 532, False), ("shown", 0.5, True), ("gap", 0.25, False)]
    assert type(glued[-1][1]) is float  # "np.float64(0.25)" would not format in {glue:text}


def test_glue_without_myst_nb_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    import IPython.display

    from glmlib.book import glue

    shown = []
    monkeypatch.setitem(sys.modules, "myst_nb", None)  # as on Colab: import fails
    monkeypatch.setattr(IPython.display, "display", lambda *a, **k: shown.append(a))
    assert glue("n_rows", 532) is None
    assert shown == []


def test_glue_records_the_value_in_the_cell_output() -> None:
    """What the book reads: a display_data output with the papermill.record mime prefix."""
    from IPython.core.interactiveshell import InteractiveShell

    from glmlib.book import glue

    shell = InteractiveShell.instance()
    published = []
    monkey = shell.display_pub.publish
    shell.display_pub.publish = lambda data, metadata=None, **k: published.append((data, metadata))
    try:
        glue("gap", np.float64(0.125))
    finally:
        shell.display_pub.publish = monkey
    ((data, metadata),) = published
    assert data == {"application/papermill.record/text/plain": "0.125"}
    assert metadata["scrapbook"] == {"name": "gap", "mime_prefix": "application/papermill.record/"}
