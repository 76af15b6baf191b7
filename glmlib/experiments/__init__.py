"""The experiments chapter's tested building blocks (``glmlib.experiments``).

ab_test
    The assignment's A/B test of e-mail templates as a binomial GLM.
sampling_plan
    The assignment's choice of extra training data, settled by simulation.
"""

from . import ab_test, sampling_plan

__all__ = ["ab_test", "sampling_plan"]
