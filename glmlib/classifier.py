"""Binary classifiers on the binomial GLM: labels in, labels and probabilities out.

:class:`GLMClassifier` and :class:`GLMClassifierCV` are :class:`glmlib.GLM`
and :class:`glmlib.GLMCV` with the binomial family, dressed as scikit-learn
classifiers: ``fit`` takes any two labels (strings, booleans, 0/1) and
codes ``classes_[1]`` as 1; ``predict_proba``, ``decision_function`` and
``predict`` answer as scikit-learn's classifiers do, so that
``scoring="neg_log_loss"`` or ``"roc_auc"``, ``RocCurveDisplay`` and
``CalibrationDisplay`` work. The fit itself is GLM's (GLMCV's), unchanged:
the coefficients are those of ``GLM(family="binomial")`` on the 0/1 target.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from ._backend import to_numpy
from ._formula import formula_design
from ._validation import _is_device_array
from .families import Family, get_family
from .glm import GLM
from .glm_cv import GLMCV

__all__ = ["GLMClassifier", "GLMClassifierCV"]


class _BinaryClassifierMixin(ClassifierMixin):
    """Label coding and the classifier's methods over a binomial GLM estimator.

    Placed before :class:`glmlib.GLM` or :class:`glmlib.GLMCV` in the bases:
    ``fit`` codes the labels as 0/1 and calls theirs; the family is always
    binomial (with the estimator's ``link``).
    """

    def _family(self) -> Family:
        return get_family("binomial", self.link)

    def _encode(self, y: Any, sample_weight: Any) -> np.ndarray:
        """Set ``classes_`` from ``y`` and return y coded 0/1 (1 = ``classes_[1]``)."""
        name = type(self).__name__
        if y is None:
            raise ValueError(f"{name} requires y to be passed, but the target y is None")
        y = to_numpy(y) if _is_device_array(y) else np.asarray(y)
        y = column_or_1d(y, warn=True)
        if y.shape[0] == 0:
            raise ValueError(f"{name} cannot be fitted to 0 samples: y is empty")
        check_classification_targets(y)
        classes, coded = np.unique(y, return_inverse=True)
        if classes.shape[0] > 2:
            shown = ", ".join(map(repr, classes[:5].tolist())) + (
                ", ..." if classes.size > 5 else ""
            )
            raise ValueError(
                f"Only binary classification is supported. {name} got y with "
                f"{classes.shape[0]} classes ({shown}); fit one classifier per class "
                "(sklearn.multiclass.OneVsRestClassifier) or merge the classes into two"
            )
        if classes.shape[0] < 2:
            raise ValueError(
                f"{name} needs two classes but y has only one class ({classes.tolist()[0]!r})"
            )
        if sample_weight is not None:
            w = to_numpy(sample_weight) if _is_device_array(sample_weight) else sample_weight
            w = np.asarray(w, dtype=np.float64).reshape(-1)
            positive = w > 0  # all-zero weights are left to GLM's own message
            if w.shape == coded.shape and positive.any() and np.unique(coded[positive]).size < 2:
                raise ValueError(
                    f"{name} needs two classes among the rows with positive sample_weight, "
                    "but they hold only one class"
                )
        self.classes_ = classes
        return coded.astype(np.float64)

    def fit(self, X: Any, y: Any = None, sample_weight: Any = None, offset: Any = None) -> Any:
        """Fit the binomial GLM to the labels ``y``.

        Parameters
        ----------
        X : array-like, DataFrame, scipy.sparse matrix or tensor, shape (n_samples, n_features)
            As for :meth:`glmlib.GLM.fit`.
        y : array-like of shape (n_samples,), optional with a formula
            Two distinct labels of any kind (strings, booleans, 0/1); the
            model gives the probability of ``classes_[1]``, the larger label
            in sorted order. With a formula and no ``y``, the formula's
            left-hand side, which must then be numeric (0/1) or boolean.
        sample_weight : array-like of shape (n_samples,), optional
            Weight of each row.
        offset : array-like of shape (n_samples,), optional
            Added to the linear predictor.

        Returns
        -------
        self
        """
        if getattr(self, "distributed", False):
            # Each shard would take its labels from its own rows; a shard with
            # one class would code them differently from the others.
            raise NotImplementedError(
                "GLMClassifier(distributed=True) is not supported: fit "
                "GLM(family='binomial', distributed=True) on 0/1-coded labels"
            )
        if y is None and getattr(self, "formula", None) is not None:
            y = formula_design(self.formula, X, self.fit_intercept)[1]
        coded = self._encode(y, sample_weight)
        return super().fit(X, coded, sample_weight=sample_weight, offset=offset)

    def predict_proba(self, X: Any, offset: Any = None) -> np.ndarray:
        """Class probabilities: column j is P(y = ``classes_[j]``).

        Parameters
        ----------
        X : array-like, DataFrame, sparse matrix or tensor of shape (n_samples, n_features)
            As for :meth:`glmlib.GLM.predict`.
        offset : array-like of shape (n_samples,), optional

        Returns
        -------
        proba : ndarray of shape (n_samples, 2)
            ``[1 - mu, mu]`` with mu = g^{-1}(eta), the binomial GLM's mean.
        """
        mu = to_numpy(self._family().link.inverse(self._linear(X, offset)))
        mu = np.asarray(mu, dtype=np.float64)
        return np.column_stack([1.0 - mu, mu])

    def decision_function(self, X: Any, offset: Any = None) -> np.ndarray:
        """Log-odds of ``classes_[1]``: log(mu / (1 - mu)).

        Under the logit link (the default) this is the linear predictor
        eta = intercept + X coef + offset itself. Under another link it is
        the log-odds of the fitted probability, so that, as scikit-learn
        expects of a binary classifier, a positive value means that
        :meth:`predict` returns ``classes_[1]``.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        eta = self._linear(X, offset)
        fam = self._family()
        if fam.link.name == "logit":
            return np.asarray(to_numpy(eta), dtype=np.float64)
        mu = np.asarray(to_numpy(fam.link.inverse(eta)), dtype=np.float64)
        with np.errstate(divide="ignore"):
            return np.log(mu) - np.log1p(-mu)

    def predict(self, X: Any, offset: Any = None) -> np.ndarray:
        """Predicted labels: ``classes_[1]`` where its probability exceeds 1/2.

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        check_is_fitted(self, "classes_")
        return self.classes_[(self.decision_function(X, offset) > 0).astype(np.intp)]

    def __sklearn_tags__(self):  # noqa: D105
        tags = super().__sklearn_tags__()
        tags.regressor_tags = None  # the GLM base is a regressor; this is not
        tags.target_tags.positive_only = False  # labels, of any kind
        tags.classifier_tags.multi_class = False
        return tags


class GLMClassifier(_BinaryClassifierMixin, GLM):
    """Binary classifier: the binomial GLM (logistic regression by default).

    The model and fit are :class:`glmlib.GLM` with ``family="binomial"``:
    P(y = ``classes_[1]`` | x) = g^{-1}(intercept + x coef), fitted by
    penalised maximum likelihood with the objective

    .. math::

        \\frac{1}{\\sum_i w_i} \\sum_i w_i\\, \\ell(y_i, \\mu_i)
        + \\alpha \\Big(\\rho \\sum_j f_j |\\beta_j|
        + \\frac{1 - \\rho}{2} \\sum_j f_j \\beta_j^2\\Big),

    with :math:`\\ell` the negative log-likelihood of a Bernoulli trial (log
    loss). With ``alpha=0`` this is R's ``glm(family = binomial)``; with
    ``alpha > 0`` it is scikit-learn's ``LogisticRegression(C=1 / (n *
    alpha), l1_ratio=l1_ratio)`` for n rows of unit weight. Unlike
    ``GLM(family="binomial")``, whose ``predict`` returns probabilities of
    a 0/1 (or proportion) response, this estimator takes any two labels and
    answers as a scikit-learn classifier: ``predict`` gives labels,
    ``predict_proba`` an (n, 2) array, ``score`` the accuracy.

    Parameters
    ----------
    alpha : float, default=0.0
        Overall penalty strength.
    l1_ratio : float, default=0.0
        Elastic-net mixing: 0 is ridge, 1 is lasso.
    link : {"logit", "probit", "cloglog", "log"} or Link, default="logit"
    fit_intercept, penalty_factor, solver, max_iter, tol, device, backend, formula, drop_first, \
distributed, precision
        As in :class:`glmlib.GLM`.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        The two labels, sorted; the model gives the probability of ``classes_[1]``.
    coef_, intercept_, and every attribute of :class:`glmlib.GLM`
        Those of the binomial GLM on y coded 0 (``classes_[0]``) and 1.

    See Also
    --------
    GLMClassifierCV : the same with alpha chosen by cross-validation.
    glmlib.GLM : for binomial proportions with trials as weights.

    Examples
    --------
    >>> import numpy as np
    >>> from glmlib import GLMClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 2))
    >>> y = np.where(rng.random(400) < 1 / (1 + np.exp(-X @ [2.0, -1.0])), "spam", "ham")
    >>> clf = GLMClassifier().fit(X, y)
    >>> clf.classes_.tolist()
    ['ham', 'spam']
    >>> clf.predict_proba(X[:2]).shape, clf.predict(X[:2]).tolist()
    ((2, 2), ['spam', 'spam'])
    """

    def __init__(
        self,
        alpha: float = 0.0,
        l1_ratio: float = 0.0,
        *,
        link: Any = "logit",
        fit_intercept: bool = True,
        penalty_factor: Any = None,
        solver: str = "auto",
        max_iter: int = 100,
        tol: float = 1e-8,
        device: str = "cpu",
        backend: str | None = None,
        formula: str | None = None,
        drop_first: bool | str = "auto",
        distributed: bool = False,
        precision: str | None = None,
    ) -> None:
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.link = link
        self.fit_intercept = fit_intercept
        self.penalty_factor = penalty_factor
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.device = device
        self.backend = backend
        self.formula = formula
        self.drop_first = drop_first
        self.distributed = distributed
        self.precision = precision


class GLMClassifierCV(_BinaryClassifierMixin, GLMCV):
    """Binary classifier with an elastic-net penalty chosen by cross-validation.

    :class:`glmlib.GLMCV` with ``family="binomial"`` as a scikit-learn
    classifier (see :class:`GLMClassifier`): the penalty path, the held-out
    deviance per alpha, ``alpha_``, ``alpha_1se_`` and the refit are GLMCV's.
    An integer ``cv`` means shuffled stratified folds (each fold keeps the
    classes' shares), as scikit-learn's classifiers use.

    Parameters
    ----------
    l1_ratio : float, default=1.0
        Elastic-net mixing (1 = lasso).
    n_alphas, alphas, eps, cv, random_state, progress, n_jobs
        As in :class:`glmlib.GLMCV`.
    link : {"logit", "probit", "cloglog", "log"} or Link, default="logit"
    fit_intercept, penalty_factor, solver, max_iter, tol, device, backend, formula, drop_first, \
precision
        As in :class:`glmlib.GLM`.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        The two labels, sorted; the model gives the probability of ``classes_[1]``.
    alpha_, alpha_1se_, alphas_, cv_deviance_, coef_path_, coef_, intercept_, ...
        As in :class:`glmlib.GLMCV`, for y coded 0 (``classes_[0]``) and 1.

    Examples
    --------
    >>> from glmlib import GLMClassifierCV
    >>> from glmlib.datasets import make_glm
    >>> X, y, coef = make_glm(600, 10, family="binomial", n_informative=3, random_state=0)
    >>> clf = GLMClassifierCV(n_alphas=20, cv=3, random_state=0).fit(X, y == 1)
    >>> clf.classes_.tolist()
    [False, True]
    """

    def __init__(
        self,
        l1_ratio: float = 1.0,
        n_alphas: int = 100,
        alphas: Any = None,
        eps: float = 1e-3,
        cv: Any = 5,
        *,
        link: Any = "logit",
        fit_intercept: bool = True,
        penalty_factor: Any = None,
        solver: str = "auto",
        max_iter: int = 100,
        tol: float = 1e-8,
        device: str = "cpu",
        backend: str | None = None,
        random_state: Any = None,
        progress: bool = False,
        formula: str | None = None,
        drop_first: bool | str = "auto",
        precision: str | None = None,
        n_jobs: int = 1,
    ) -> None:
        self.l1_ratio = l1_ratio
        self.n_alphas = n_alphas
        self.alphas = alphas
        self.eps = eps
        self.cv = cv
        self.link = link
        self.fit_intercept = fit_intercept
        self.penalty_factor = penalty_factor
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.device = device
        self.backend = backend
        self.random_state = random_state
        self.progress = progress
        self.formula = formula
        self.drop_first = drop_first
        self.precision = precision
        self.n_jobs = n_jobs
