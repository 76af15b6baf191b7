"""Load the shipped data sets: find the file, check it, type its columns.

The files live in the repository's ``data/`` folder (one level above the
package); an installed wheel carries a copy inside the package
(``glmlib/datasets/data/``, put there by setup.py's build step). A folder
passed as ``data_dir``, or named by the ``GLMLIB_DATA`` environment variable,
takes precedence. Nothing is downloaded. Every load checks
the file's SHA-256 against the registry and its header and row count against
the schema, so a notebook never silently analyses a modified file.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pandas as pd

from ._registry import CAT, DATASETS, STR, DatasetSpec

__all__ = ["describe", "get_data_dir", "list_datasets", "load"]

#: Environment variable that overrides the location of the data folder.
ENV_VAR = "GLMLIB_DATA"
_README = "data/README.md"
#: The wheel's copy of the data files (absent in a checkout or editable install).
PACKAGED_DATA = Path(__file__).resolve().parent / "data"
#: The repository's data/ folder, the files' home.
CHECKOUT_DATA = Path(__file__).resolve().parents[2] / "data"


def get_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Return the folder that holds the data files.

    Parameters
    ----------
    data_dir : str or path-like, optional
        Use this folder. Without it, the folder named by the environment
        variable ``GLMLIB_DATA`` is used if set; else the copy inside the
        installed package (``glmlib/datasets/data/``, present when glmlib was
        installed from a wheel, e.g. ``pip install git+...``); else the
        ``data/`` folder of the repository checkout that holds the package.

    Returns
    -------
    pathlib.Path
        The folder (it is not checked to exist).
    """
    if data_dir is not None:
        return Path(data_dir)
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    return PACKAGED_DATA if PACKAGED_DATA.is_dir() else CHECKOUT_DATA


def _spec(name: str) -> DatasetSpec:
    if not isinstance(name, str) or name.lower() not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; valid names: {', '.join(DATASETS)}")
    return DATASETS[name.lower()]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _corrupt(path: Path, why: str) -> ValueError:
    return ValueError(
        f"data file {path} is corrupt or modified: {why}. "
        f"Restore it from the repository (provenance and checksums in {_README})."
    )


def _read(path: Path, spec: DatasetSpec) -> pd.DataFrame:
    """Read a file whose checksum has been checked; validate schema and set dtypes."""
    file_dtypes = {c.name: (str if c.dtype in (CAT, STR) else c.dtype) for c in spec.columns}
    try:
        df = pd.read_csv(path, dtype=file_dtypes, compression="gzip")
    except (ValueError, TypeError, OSError, EOFError) as err:
        raise _corrupt(path, f"it cannot be parsed ({err})") from err
    if tuple(df.columns) != spec.column_names:
        raise _corrupt(path, f"its columns {list(df.columns)[:12]} differ from the schema")
    if len(df) != spec.n_rows:
        raise _corrupt(path, f"it has {len(df)} rows, the schema says {spec.n_rows}")
    for col in spec.columns:
        if col.dtype != CAT:
            if df[col.name].isna().any():
                raise _corrupt(path, f"column {col.name!r} has missing values")
            continue
        levels = list(col.categories or ())
        raw = df[col.name]
        if isinstance(levels[0], int):
            raw = pd.to_numeric(raw, errors="coerce")
        if not raw.isin(levels).all():
            raise _corrupt(path, f"column {col.name!r} has values outside {levels}")
        df[col.name] = pd.Categorical(raw, categories=levels, ordered=col.ordered)
    for ind in spec.indicators:
        df[ind.name] = (df[ind.source] == ind.positive).astype("int64")
    return df


def _load_spec(spec: DatasetSpec, data_dir: str | os.PathLike[str] | None) -> pd.DataFrame:
    folder = get_data_dir(data_dir)
    path = folder / spec.filename
    if not path.is_file():
        raise FileNotFoundError(
            f"data file {spec.filename!r} for data set {spec.name!r} not found in {folder}. "
            f"The files ship in the repository's data/ folder (see {_README}) and inside "
            f"wheels built from it; set {ENV_VAR} to the folder that holds them."
        )
    digest = _sha256(path)
    if digest != spec.sha256:
        raise _corrupt(path, f"its SHA-256 is {digest}, the registry expects {spec.sha256}")
    df = _read(path, spec)
    df.attrs.update(name=spec.name, description=spec.description, source=spec.source)
    return df


def load(name: str, *, data_dir: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Load a shipped data set as a typed pandas DataFrame.

    The file's SHA-256 and schema (column names and order, row count,
    categorical levels) are checked on every load. Categorical columns are
    pandas ``category`` with the source package's level order (its first level
    is the reference of treatment contrasts); binary outcomes also come as a
    0/1 ``int64`` indicator column. ``describe(name)`` lists every column.

    ============== ======= ===== ==========================================================
    name              rows  cols outcome (0/1 indicator added by the loader)
    ============== ======= ===== ==========================================================
    pima               532    10 ``type`` No/Yes -> ``diabetes``; ``split`` train/test
    breast_cancer      569    32 ``diagnosis`` benign/malignant -> ``malignant``
    default          10000     5 ``default`` No/Yes -> ``defaulted``
    smarket           1250    10 ``Direction`` Down/Up -> ``up``
    weekly            1089    10 ``Direction`` Down/Up -> ``up``
    spam7             4601     8 ``yesno`` n/y -> ``spam``
    insurance           64     5 count ``Claims``, exposure ``Holders``
    nmes1988          4406    19 count ``visits`` (and five other utilisation counts)
    wage              3000    11 continuous ``wage`` and ``logwage``
    khan                83  2310 class ``y`` in 1..4; genes ``V1``..``V2308``; ``split``
    bemtpl97        163212    16 count ``nclaims``, exposure ``expo`` (years), ``amount``
    ============== ======= ===== ==========================================================

    Parameters
    ----------
    name : str
        Data set name, one of ``list_datasets().index``.
    data_dir : str or path-like, optional
        Folder holding the files; see :func:`get_data_dir`.

    Returns
    -------
    pandas.DataFrame
        One row per observation; ``df.attrs`` holds ``name``, ``description``
        and ``source``.

    Raises
    ------
    ValueError
        If ``name`` is unknown (the message lists the valid names), or if the
        file is corrupt or modified (wrong checksum or schema).
    FileNotFoundError
        If the file is missing; the message names the file and data/README.md.

    Examples
    --------
    >>> from glmlib.datasets import load
    >>> df = load("insurance")
    >>> df.shape
    (64, 5)
    >>> df["Age"].cat.categories.tolist()
    ['<25', '25-29', '30-35', '>35']
    """
    return _load_spec(_spec(name), data_dir)


def list_datasets() -> pd.DataFrame:
    """Return a table of the shipped data sets.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``name``, with columns ``description`` (one line),
        ``task`` (binary, count, continuous or multiclass), ``n_rows``,
        ``n_columns`` (as loaded, indicators included) and ``source``.

    Examples
    --------
    >>> from glmlib.datasets import list_datasets
    >>> "pima" in list_datasets().index
    True
    """
    rows = [
        {
            "name": s.name,
            "description": s.description,
            "task": s.task,
            "n_rows": s.n_rows,
            "n_columns": len(s.columns) + len(s.indicators),
            "source": s.source,
        }
        for s in DATASETS.values()
    ]
    return pd.DataFrame(rows).set_index("name")


def describe(name: str) -> str:
    """Return a plain-text description of a data set and each of its columns.

    Parameters
    ----------
    name : str
        Data set name.

    Returns
    -------
    str
        Description, source, license, reference, what the book uses it for,
        and one line per column (Khan's 2,308 gene columns are summarised).
    """
    spec = _spec(name)
    lines = [
        f"{spec.name}: {spec.description}",
        f"  rows: {spec.n_rows}; task: {spec.task}",
        f"  source: {spec.source}",
        f"  license: {spec.license}",
        f"  reference: {spec.reference}",
        f"  used for: {spec.book_use}",
        "  columns:",
    ]
    shown = [c for c in spec.columns if not (spec.name == "khan" and c.name[0] == "V")]
    for c in shown:
        kind = c.dtype
        if c.categories is not None:
            kind += (
                " [" + ", ".join(map(str, c.categories)) + "]" + (" ordered" if c.ordered else "")
            )
        lines.append(f"    {c.name}: {c.doc} ({kind})")
    if len(shown) < len(spec.columns):
        lines.append(f"    V1 .. V{len(spec.columns) - len(shown)}: gene expression (float64)")
    for ind in spec.indicators:
        lines.append(f"    {ind.name}: {ind.doc} (int64, added by the loader)")
    return "\n".join(lines)
