"""Data for glmlib and its book: shipped real data sets and synthetic GLM data.

Real data sets are gzip CSV files in the repository's ``data/`` folder (see
``data/README.md`` for provenance, licenses and checksums), copied into the
package when a wheel is built (``pip install git+...`` has them); :func:`load`
checks each file's SHA-256 and schema and returns a typed DataFrame. Nothing
is downloaded. :func:`make_glm` simulates data with known coefficients for
every family in :mod:`glmlib.families`.

Examples
--------
>>> from glmlib.datasets import list_datasets, load, make_glm
>>> df = load("pima")
>>> df["diabetes"].mean().round(3)
np.float64(0.333)
>>> X, y, coef = make_glm(500, 3, "binomial", random_state=0)
"""

from ._load import describe, get_data_dir, list_datasets, load
from ._registry import DATASETS
from ._synthetic import make_glm

__all__ = ["DATASETS", "describe", "get_data_dir", "list_datasets", "load", "make_glm"]
