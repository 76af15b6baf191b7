"""glmlib.gam._terms: term algebra, the sum-to-zero constraint, factors, argument checks."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from glmlib.gam import FactorTerm, SplineTerm, TermList, f, l, s, te
from glmlib.gam._basis import bspline_basis, dense


def test_terms_add_up_to_a_term_list() -> None:
    terms = s(0) + l("x") + f(2) + te(0, 1)
    assert isinstance(terms, TermList)
    assert [t.kind for t in terms] == ["s", "l", "f", "te"]
    assert len(sum([s(0), s(1)])) == 2
    assert len(terms + (s(3) + s(4))) == 6
    assert "s(0, n_splines=20" in repr(terms) and "l('x')" in repr(terms)


def test_terms_copy_and_compare() -> None:
    terms = s(0, lam=2.0) + te(1, 2, n_splines=[4, 5])
    twin = copy.deepcopy(terms)
    assert twin == terms and twin is not terms
    assert s(0) != s(0, n_splines=10)


def test_bad_terms_are_rejected() -> None:
    with pytest.raises(TypeError, match="expected a term"):
        TermList(s(0), "s(1)")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="int index or a column name"):
        s(1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least two columns"):
        te(0)


def _fit(term, x):  # noqa: ANN001, ANN202
    data = list(x) if isinstance(x, list) else [x]
    return term.fit_transform(data, [f"x{j}" for j in range(len(data))])


def test_smooth_sums_to_zero_and_spans_the_spline_space() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 10, 200)
    term = s(0, n_splines=12)
    block = _fit(term, x)
    assert block.shape == (200, 11) and term.n_coefs == 11
    np.testing.assert_allclose(block.sum(axis=0), 0.0, atol=1e-10)
    raw = dense(bspline_basis(x, term.knots_, 3))
    ones = np.ones((200, 1))
    # [1, B Z] and [1, B] span the same space: the constraint only moves a constant.
    assert np.linalg.matrix_rank(np.hstack([ones, block, raw])) == 12
    np.testing.assert_allclose(term.transform([x]), block)
    (pen,) = term.penalties
    assert pen.shape == (11, 11) and np.linalg.matrix_rank(pen) == 10


def test_tensor_term_has_one_penalty_per_margin() -> None:
    rng = np.random.default_rng(1)
    x1, x2 = rng.uniform(size=300), rng.uniform(size=300)
    term = te(0, 1, n_splines=[5, 4], lam=[None, 3.0])
    block = _fit(term, [x1, x2])
    assert block.shape == (300, 19)
    np.testing.assert_allclose(block.sum(axis=0), 0.0, atol=1e-10)
    assert len(term.penalties) == 2 and term.lam_fixed == [None, 3.0]


def test_factor_levels_reference_and_unseen_levels() -> None:
    x = pd.Series(pd.Categorical(["b", "a", "c", "b"], categories=["c", "b", "a", "z"]))
    term = f(0)
    block = _fit(term, x)
    assert term.levels_ == ["c", "b", "a"]  # category order, unused level dropped
    np.testing.assert_array_equal(block, [[1, 0], [0, 1], [0, 0], [1, 0]])
    plain = f(0)
    _fit(plain, pd.Series([3, 1, 2, 1]))
    assert plain.levels_ == [1, 2, 3]
    with pytest.raises(ValueError, match="unseen in training"):
        plain.transform([pd.Series([1, 4])])
    with pytest.raises(ValueError, match="needs 2 or more"):
        _fit(f(0), pd.Series(["a", "a"]))


def test_linear_term_is_the_column() -> None:
    x = np.array([1.0, 2.0, 4.0])
    np.testing.assert_array_equal(_fit(l(0), x), x[:, None])


@pytest.mark.parametrize(
    ("term", "message"),
    [
        (s(0, n_splines=3, spline_order=3), "n_splines must be >= spline_order \\+ 1"),
        (s(0, n_splines=5, penalty_order=5), "penalty_order must be < n_splines"),
        (s(0, lam=-1.0), "lam must be finite and >= 0"),
        (s(0, n_splines=2.5), "n_splines must be an integer"),
        (s(0, n_splines=40), "fewer than n_splines=40"),
        (te(0, 1, n_splines=[5, 5, 5]), "needs 2 entries"),
    ],
)
def test_bad_settings_fail_at_fit(term: SplineTerm, message: str) -> None:
    x = np.linspace(0, 1, 30)
    data = [x, x] if term.kind == "te" else x
    with pytest.raises((ValueError, TypeError), match=message):
        _fit(term, data if isinstance(data, list) else data)


def test_factor_term_is_a_term() -> None:
    assert isinstance(f("g"), FactorTerm)
