"""How many vectors of n floats a :class:`glmlib.GLM` fit keeps alive (``glmlib/glm.py``).

An absent ``sample_weight`` or ``offset`` becomes a constant vector stored as
one number (:func:`glmlib._backend.constant_vector`); the reference for those
fits is the same fit given explicit unit weights and a zero offset (full
vectors, the path every other caller takes), which must agree to 1e-12. The
count of n-vectors is measured with ``tracemalloc`` as the growth of the fit's
traced peak between two sample sizes, so that fixed-size buffers (row blocks,
p x p matrices) cancel.
"""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest
from test_glm import FAMILY_LINKS, glm_family, make_data  # noqa: E402

from glmlib import GLM
from glmlib._backend import constant_value, constant_vector
from glmlib.datasets import make_glm
from glmlib.design import dense

AGREE = 1e-12


def _fit(family, link, X, y, w, off, **kw):
    fam = glm_family(family, link)
    model = GLM(family=fam, link=None if not isinstance(fam, str) else link, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X, y, sample_weight=w, offset=off)


def _params(m):
    return np.concatenate([[m.intercept_], m.coef_])


def test_constant_vector_is_one_number():
    v = constant_vector(1000, 2.5)
    assert v.strides == (0,) and not v.flags.writeable
    assert constant_value(v) == 2.5
    assert constant_value(np.full(1000, 2.5)) is None  # a full vector is not one
    np.testing.assert_array_equal(v * np.arange(1000.0), 2.5 * np.arange(1000.0))


@pytest.mark.parametrize(("family", "link"), FAMILY_LINKS)
@pytest.mark.parametrize("alpha", [0.0, 0.01])
def test_absent_weights_and_offset_match_explicit_ones(family, link, alpha):
    """sample_weight=None, offset=None: the fit with np.ones(n) and np.zeros(n), to 1e-12."""
    X, y, _, _ = make_data(family, link, "plain", n=400, seed=3)
    n = X.shape[0]
    kw = {"alpha": alpha, "l1_ratio": 0.5, "tol": 1e-10}
    absent = _fit(family, link, X, y, None, None, **kw)
    explicit = _fit(family, link, X, y, np.ones(n), np.zeros(n), **kw)
    scale = max(1.0, float(np.max(np.abs(_params(explicit)))))
    np.testing.assert_allclose(_params(absent), _params(explicit), rtol=0, atol=AGREE * scale)
    assert absent.deviance_ == pytest.approx(explicit.deviance_, rel=AGREE)
    assert absent.null_deviance_ == pytest.approx(explicit.null_deviance_, rel=AGREE)
    assert absent.n_iter_ == explicit.n_iter_


def test_absent_weights_with_an_offset():
    """Only the weights absent (an offset given): as with explicit unit weights."""
    X, y, _, off = make_data("poisson", "log", "offset", n=400, seed=4)
    a = _fit("poisson", "log", X, y, None, off, alpha=0.01, tol=1e-10)
    b = _fit("poisson", "log", X, y, np.ones(X.shape[0]), off, alpha=0.01, tol=1e-10)
    np.testing.assert_allclose(_params(a), _params(b), rtol=0, atol=AGREE)


def _peak_bytes(X, y, family, **kw):
    """tracemalloc's peak during one fit, above what was traced before it."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        GLM(family=family, tol=1e-6, **kw).fit(X, y)
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    ("family", "kw"),
    [
        ("binomial", {"alpha": 1e-3, "l1_ratio": 0.0}),
        ("binomial", {"alpha": 0.02, "l1_ratio": 1.0}),
        ("poisson", {"alpha": 1e-3, "l1_ratio": 0.0}),
    ],
)
def test_a_fit_holds_few_vectors_of_n_floats(family, kw, monkeypatch):
    """At most 6 n-vectors at once above X and y.

    Measured 10.1 (binomial) and 12.1 (Poisson) before absent weights, offset
    and normalised weights became constants and the working weights stopped
    outliving their use; 3.1 after (at the line search: the trial eta, X @ step
    and the working weights, eta being the null model's constant at the first).

    Column subsets (screening) are views here, as they are for large X: a
    small X's subsets are copied, n floats per column, by design.
    """
    monkeypatch.setattr(dense, "_SUBSET_COPY_BYTES", 0)
    monkeypatch.setattr(dense, "_SUBSET_COPY_SHARE", 0.0)
    p, sizes = 20, (60_000, 120_000)
    data = [make_glm(n, p, family, random_state=0)[:2] for n in sizes]
    # Compile and warm caches outside the measured fits: every path they take,
    # sampled Hessians included, which only the larger size uses (numba's
    # compiler, run there on a fresh cache, allocates about 3 n-vectors' worth).
    GLM(family=family, tol=1e-6, **kw).fit(np.ascontiguousarray(data[-1][0]), data[-1][1])
    peaks = []
    for X, y in data:
        peaks.append(_peak_bytes(np.ascontiguousarray(X), y, family, **kw))
    per_row = (peaks[1] - peaks[0]) / (sizes[1] - sizes[0])
    print(f"{family} {kw}: {per_row / 8:.2f} n-vectors")
    assert per_row / 8 <= 6, f"{per_row / 8:.2f} vectors of n floats alive at the peak"
