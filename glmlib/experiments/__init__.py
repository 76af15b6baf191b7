"""The book's experiments: every claim of the research, tested on three domains.

``glmlib.experiments`` runs the comparison of chapter 9: six shipped data sets
(healthcare, finance, natural language), eleven model families, repeated 80/20
splits with every tuning choice made inside the training part, the research's
metrics, and a table of the research's claims with verdicts computed from the
results.

The grid and its claims
-----------------------
DOMAINS, MODELS
    The data sets and the model families of the grid.
split, design
    A data set's 80/20 split and its design matrices (fitted on training rows).
run_grid
    The grid: data sets x models x repeats, one tidy row per fit.
select_best
    The model chosen per data set on the validation score inside training.
summarize
    Means and t-intervals over the repeats.
binary_metrics, count_metrics
    The metrics, written out (checked against scikit-learn in the tests).
record, results_frame, machine_meta
    Writing and reading recorded runs (``glmlib/recorded/experiments/``).
claims_table, CLAIMS
    The research's claims with the measurement and verdict of each.
claim_comparisons
    Every comparison behind the verdicts, with its interval and relative change.
ab_test
    The assignment's A/B test of e-mail templates as a binomial GLM.
sampling_plan
    The assignment's choice of extra training data, settled by simulation.
"""

from . import ab_test, sampling_plan
from ._claims import CLAIMS, claim_comparisons, claims_table, verdict
from ._domains import DOMAINS, design, split
from ._metrics import binary_metrics, count_metrics, summarize
from ._models import MODELS
from ._run import machine_meta, record, results_frame, run_grid, select_best

__all__ = [
    "CLAIMS",
    "DOMAINS",
    "MODELS",
    "ab_test",
    "binary_metrics",
    "claim_comparisons",
    "claims_table",
    "count_metrics",
    "design",
    "machine_meta",
    "record",
    "sampling_plan",
    "results_frame",
    "run_grid",
    "select_best",
    "split",
    "summarize",
    "verdict",
]
