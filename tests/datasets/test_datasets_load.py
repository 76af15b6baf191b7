"""Tests for glmlib.datasets loading: shapes, dtypes, checksums and error messages."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from glmlib.datasets import DATASETS, describe, get_data_dir, list_datasets, load
from glmlib.datasets import _load as load_mod

ROOT = Path(__file__).resolve().parents[2]
NAMES = list(DATASETS)


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    return {name: load(name) for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_shape_and_dtypes_match_registry(frames: dict[str, pd.DataFrame], name: str) -> None:
    spec = DATASETS[name]
    df = frames[name]
    assert df.shape == (spec.n_rows, len(spec.columns) + len(spec.indicators))
    for col in spec.columns:
        s = df[col.name]
        if col.dtype == "category":
            assert isinstance(s.dtype, pd.CategoricalDtype), col.name
            assert list(s.cat.categories) == list(col.categories or ()), col.name
            assert s.cat.ordered == col.ordered
            assert s.notna().all()
        else:
            assert s.dtype == col.dtype, col.name
    for ind in spec.indicators:
        s = df[ind.name]
        assert s.dtype == "int64"
        assert set(s.unique()) == {0, 1}
        assert (s == (df[ind.source] == ind.positive)).all()
    assert df.attrs["name"] == name


@pytest.mark.parametrize(
    ("name", "column", "total"),
    [
        ("pima", "diabetes", 177),  # 68 in Pima.tr + 109 in Pima.te
        ("breast_cancer", "malignant", 212),
        ("default", "defaulted", 333),
        ("smarket", "up", 648),
        ("weekly", "up", 605),
        ("spam7", "spam", 1813),
        ("insurance", "Claims", 3151),
        ("insurance", "Holders", 23359),
        ("tweets", "android", 4652),  # dslabs trump_tweets: 4652 'Twitter for Android' rows
        ("bemtpl97", "nclaims", 20215),  # computed from CASdatasets' beMTPL97.rda (rdata 1.1.0)
    ],
)
def test_known_totals(frames: dict[str, pd.DataFrame], name: str, column: str, total: int) -> None:
    """Totals quoted in the source packages' documentation and books."""
    assert int(frames[name][column].sum()) == total


def test_khan_is_p_much_larger_than_n(frames: dict[str, pd.DataFrame]) -> None:
    df = frames["khan"]
    genes = [c for c in df.columns if c.startswith("V")]
    assert len(genes) == 2308
    assert df["split"].value_counts().to_dict() == {"train": 63, "test": 20}


def test_bemtpl97_is_consistent(frames: dict[str, pd.DataFrame]) -> None:
    """Facts of the source .rda (read with rdata 1.1.0) that the shipped file must keep."""
    df = frames["bemtpl97"]
    has_claim = df["nclaims"] > 0
    assert (df["claim"].astype(int) == has_claim).all()
    assert ((df["amount"] > 0) == has_claim).all()
    assert int(has_claim.sum()) == 18276
    assert df["nclaims"].value_counts().sort_index().tolist() == [144936, 16539, 1556, 162, 17, 2]
    assert abs(df["expo"].sum() - 145216.82465753422) < 1e-6
    assert df["expo"].between(0, 1, inclusive="right").all()
    assert df["bm"].between(0, 22).all() and df["ageph"].between(18, 95).all()
    assert df["coverage"].value_counts().to_dict() == {"TPL": 95124, "TPL+": 45984, "TPL++": 22104}
    # one location per postcode
    assert (df.groupby("postcode")[["long", "lat"]].nunique() == 1).all().all()


def test_list_datasets_and_describe() -> None:
    table = list_datasets()
    assert list(table.index) == NAMES
    assert {"description", "task", "n_rows", "n_columns", "source"} <= set(table.columns)
    text = describe("pima")
    for col in DATASETS["pima"].columns:
        assert col.name in text
    assert "diabetes" in text


def test_readme_records_every_file_and_checksum() -> None:
    readme = (ROOT / "data" / "README.md").read_text()
    for spec in DATASETS.values():
        assert spec.filename in readme
        assert spec.sha256 in readme


def test_unknown_name_lists_valid_names() -> None:
    with pytest.raises(ValueError, match="valid names") as err:
        load("no_such_data")
    for name in NAMES:
        assert name in str(err.value)


def test_data_dir_resolution(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """data_dir, then GLMLIB_DATA, then the wheel's copy in the package, then data/."""
    monkeypatch.delenv("GLMLIB_DATA", raising=False)
    assert not load_mod.PACKAGED_DATA.exists(), "a checkout has no copy inside the package"
    assert get_data_dir() == ROOT / "data"
    packaged = tmp_path / "packaged"
    monkeypatch.setattr(load_mod, "PACKAGED_DATA", packaged)
    assert get_data_dir() == ROOT / "data"  # no copy: the repository's folder
    packaged.mkdir()
    assert get_data_dir() == packaged
    monkeypatch.setenv("GLMLIB_DATA", str(tmp_path))
    assert get_data_dir() == tmp_path
    assert get_data_dir(ROOT / "data") == ROOT / "data"


def test_missing_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GLMLIB_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"insurance\.csv\.gz") as err:
        load("insurance")
    assert "data/README.md" in str(err.value)
    assert "GLMLIB_DATA" in str(err.value)


def test_env_var_copy_loads(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    shutil.copy(ROOT / "data" / "insurance.csv.gz", tmp_path)
    monkeypatch.setenv("GLMLIB_DATA", str(tmp_path))
    assert load("insurance").shape == (64, 5)


def _write_gz(path: Path, text: str) -> str:
    path.write_bytes(gzip.compress(text.encode(), mtime=0))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_checksum_mismatch(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    text = gzip.decompress((ROOT / "data" / "insurance.csv.gz").read_bytes()).decode()
    _write_gz(tmp_path / "insurance.csv.gz", text.replace(",38\n", ",39\n", 1))
    monkeypatch.setenv("GLMLIB_DATA", str(tmp_path))
    with pytest.raises(ValueError, match="corrupt or modified") as err:
        load("insurance")
    assert "SHA-256" in str(err.value)


def test_truncated_file_is_corrupt(tmp_path: Path) -> None:
    data = (ROOT / "data" / "pima.csv.gz").read_bytes()
    (tmp_path / "pima.csv.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="corrupt or modified"):
        load("pima", data_dir=tmp_path)


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda t: t.replace("District,", "district,", 1), id="renamed-column"),
        pytest.param(lambda t: t.rsplit("\n", 2)[0] + "\n", id="missing-row"),
        pytest.param(lambda t: t.replace(",<25,", ",<20,", 1), id="unknown-level"),
        pytest.param(lambda t: t.replace(",38\n", ",x\n", 1), id="bad-number"),
    ],
)
def test_schema_violation_is_corrupt(tmp_path: Path, edit) -> None:
    """A file whose checksum matches a (hypothetical) registry entry but not the schema."""
    spec = DATASETS["insurance"]
    text = gzip.decompress((ROOT / "data" / spec.filename).read_bytes()).decode()
    digest = _write_gz(tmp_path / spec.filename, edit(text))
    with pytest.raises(ValueError, match="corrupt or modified"):
        load_mod._load_spec(dataclasses.replace(spec, sha256=digest), tmp_path)


def test_import_does_not_pull_in_torch() -> None:
    code = "import sys, glmlib.datasets; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
