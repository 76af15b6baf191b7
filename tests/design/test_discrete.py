"""DiscreteDesign: products of a discretised X equal those of the dense X.

The reference is the dense matrix assembled here with NumPy indexing
(``bases[k][codes[:, k]]`` side by side) and its products by matrix
multiplication; tolerances 1e-12 relative (the same sums in another order).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import glmlib.design.discrete as discrete_module
from glmlib.design.discrete import DiscreteDesign, discretise, joint_codes
from glmlib.design.protocol import Design


def _problem(seed: int = 0, n: int = 2000) -> tuple[DiscreteDesign, np.ndarray]:
    rng = np.random.default_rng(seed)
    sizes, widths = [7, 30, 3, 120], [3, 5, 2, 4]
    bases = [rng.normal(size=(m, c)) for m, c in zip(sizes, widths, strict=True)]
    codes = np.column_stack([rng.integers(0, m, n) for m in sizes])
    codes[: max(sizes)] = np.arange(max(sizes))[:, None] % np.array(sizes)  # every row occurs
    X = np.concatenate([b[codes[:, k]] for k, b in enumerate(bases)], axis=1)
    return DiscreteDesign(codes, bases), X


def _close(a: np.ndarray, b: np.ndarray) -> None:
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12 * float(np.max(np.abs(b))))


# Cross blocks from pair tables, by row accumulation, or some of each (a total
# budget of 500 cells keeps the pairs of sizes 7 x 30, 7 x 3 and 30 x 3).
@pytest.mark.parametrize(
    ("max_cells", "total", "n_tables"), [(10**6, 10**7, 6), (0, 10**7, 0), (10**6, 500, 3)]
)
def test_products_equal_dense(
    monkeypatch: pytest.MonkeyPatch, max_cells: int, total: int, n_tables: int
) -> None:
    monkeypatch.setattr(discrete_module, "_MAX_PAIR_CELLS", max_cells)
    monkeypatch.setattr(discrete_module, "_MAX_TOTAL_PAIR_CELLS", total)
    design, X = _problem()
    assert design._pair_a.shape[0] == n_tables
    assert n_tables + len(design._accumulate) == 6  # every pair of the 4 blocks
    assert isinstance(design, Design)
    assert (design.n, design.p) == X.shape
    rng = np.random.default_rng(1)
    beta, v, d = (
        rng.normal(size=X.shape[1]),
        rng.normal(size=X.shape[0]),
        rng.uniform(size=X.shape[0]),
    )
    d[::5] = 0.0
    _close(design.matvec(beta), X @ beta)
    _close(design.rmatvec(v), X.T @ v)
    X1 = np.column_stack([np.ones(X.shape[0]), X])
    _close(design.gram(d), X1.T @ (d[:, None] * X1))
    _close(design.gram(d, intercept=False), X.T @ (d[:, None] * X))
    np.testing.assert_array_equal(design.column_range(), X.max(axis=0) - X.min(axis=0))
    np.testing.assert_array_equal(design.to_dense(), X)


def test_subset_and_merged() -> None:
    design, X = _problem(seed=2)
    d = np.random.default_rng(3).uniform(size=X.shape[0])
    for cols in ([0, 2, 3, 9, 13], [13, 0, 1], [4], []):
        sub = design.subset(np.array(cols, dtype=np.int64))
        Xs = X[:, cols]
        assert sub.p == len(cols)
        _close(
            sub.gram(d),
            np.column_stack([np.ones(len(d)), Xs]).T
            @ (d[:, None] * np.column_stack([np.ones(len(d)), Xs])),
        )
        _close(sub.matvec(np.ones(len(cols))), Xs.sum(axis=1))
    assert design.subset(None) is design
    merged = design.merged([[0], [1, 2], [3]])
    assert len(merged.bases) == 3
    assert merged.bases[1].shape[0] <= 30 * 3
    _close(merged.gram(d), design.gram(d))
    np.testing.assert_array_equal(merged.to_dense(), X)
    with pytest.raises(ValueError, match="in order"):
        design.merged([[1, 0], [2], [3]])
    with pytest.raises(IndexError):
        design.subset([99])


def test_joint_codes_and_discretise() -> None:
    rng = np.random.default_rng(4)
    a = rng.integers(0, 5, 500).astype(float)
    b = pd.Series(rng.choice(["x", "y", "z"], 500))
    codes, first = joint_codes([a, b])
    pairs = pd.DataFrame({"a": a, "b": b})
    assert first.shape[0] == len(pairs.drop_duplicates())
    assert not pairs.iloc[first].duplicated().any()
    np.testing.assert_array_equal(codes[first], np.arange(first.shape[0]))
    np.testing.assert_array_equal(a[first][codes], a)
    np.testing.assert_array_equal(b.to_numpy()[first][codes], b.to_numpy())
    x = np.array([0.123, 0.124, 0.123, 0.9])
    codes, values = discretise(x)
    assert values.shape[0] == 3
    np.testing.assert_array_equal(values[codes], x)
    codes, values = discretise(x, decimals=2)
    np.testing.assert_array_equal(values[codes], [0.12, 0.12, 0.12, 0.9])
    with pytest.raises(TypeError, match="decimals"):
        discretise(x, decimals=1.5)  # type: ignore[arg-type]


def test_bad_input() -> None:
    base = [np.ones((3, 2))]
    with pytest.raises(ValueError, match="shape"):
        DiscreteDesign(np.zeros((4, 2), dtype=int), base)
    with pytest.raises(ValueError, match="outside"):
        DiscreteDesign(np.array([[0], [3]]), base)
    with pytest.raises(TypeError, match="integers"):
        DiscreteDesign(np.array([[0.0], [1.0]]), base)
    with pytest.raises(ValueError, match="2-D"):
        DiscreteDesign(np.array([[0], [1]]), [np.ones(3)])
    with pytest.raises(ValueError, match="at least one column"):
        joint_codes([])


@pytest.mark.parametrize(("family", "l1"), [("poisson", 0.0), ("binomial", 0.002)])
def test_newton_unchanged_on_the_discrete_design(family: str, l1: float) -> None:
    """The core's Newton solver fits the same GLM (ridge or elastic net) on either design."""
    from glmlib._backend import resolve_backend
    from glmlib.design.make import make_design
    from glmlib.families import get_family
    from glmlib.solver.newton import newton
    from glmlib.solver.null import null_intercept
    from glmlib.solver.problem import Problem

    design, X = _problem(seed=5, n=3000)
    rng = np.random.default_rng(6)
    eta = 0.3 * (X @ rng.normal(size=X.shape[1])) / np.sqrt(X.shape[1])
    y = rng.poisson(np.exp(eta)) if family == "poisson" else rng.binomial(1, 1 / (1 + np.exp(-eta)))
    backend = resolve_backend("numpy", "cpu", X)
    fits = []
    for d in (make_design(X, backend), design):
        prob = Problem(
            design=d,
            y=y.astype(float),
            weights=np.full(len(y), 1.0 / len(y)),
            offset=np.zeros(len(y)),
            family=get_family(family),
            l1=np.full(X.shape[1], l1),
            l2=np.full(X.shape[1], 0.01),
            backend=backend,
        )
        theta0 = np.concatenate([null_intercept(prob, 1e-10, 100), np.zeros(X.shape[1])])
        fits.append(newton(prob, theta0, tol=1e-10).theta)
    np.testing.assert_allclose(fits[1], fits[0], rtol=0, atol=1e-9)
    if l1 > 0:  # the screened fit ran on column subsets of the design
        assert 0 < int(np.sum(fits[0][1:] == 0)) < X.shape[1]
