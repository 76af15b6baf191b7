"""Build step: the wheel carries the data sets, which live in the repository's data/.

``data/`` (at the repository root, with its README and build script) is the
home of the book's data files; it lies outside the package, so a wheel built
from the checkout (``pip install git+...``, as on Colab) would not have them.
This ``build_py`` copies ``data/*.csv.gz`` into ``glmlib/datasets/data/`` of the
build, where :func:`glmlib.datasets.get_data_dir` looks first. Editable
installs skip the copy: they read ``data/`` itself. Everything else about the
package is declared in pyproject.toml.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

DATA = Path(__file__).resolve().parent / "data"
PACKAGED_DATA = ("glmlib", "datasets", "data")  # inside the built package


class BuildPyWithData(build_py):
    """``build_py`` that also copies the data files into the built package."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        files = sorted(DATA.glob("*.csv.gz"))
        if not files:
            raise FileNotFoundError(f"no data files (*.csv.gz) in {DATA} to put in the wheel")
        target = Path(self.build_lib).joinpath(*PACKAGED_DATA)
        self.mkpath(str(target))
        for path in files:
            self.copy_file(str(path), str(target / path.name))


setup(cmdclass={"build_py": BuildPyWithData})
