"""The book's chapter helpers: parameter checks, so that a bad value fails at once,
numbered figures (:func:`glue_figure`), computed numbers in the prose (:func:`glue`),
and the machinery a chapter should not show: BLAS thread limits
(:func:`limit_blas_threads`) and warnings recorded rather than printed
(:class:`WarningLog`).

:mod:`glmlib.book.scaling` holds chapter 6's code that runs in other processes
(``torchrun`` scripts and :func:`glmlib.distributed.launch` workers).

Every chapter has a papermill ``parameters`` cell (``seed``, ``quick``,
``device`` and the chapter's own sizes) and, right after it, one call of
:func:`check_parameters` that states what each parameter may be. Run with
``papermill -p n_folds 0`` or ``-p device tpu``, the chapter stops in that
cell with a message naming the parameter, instead of failing minutes later
somewhere else (or not at all).

Examples
--------
>>> from glmlib.book import Int, Real, check_parameters
>>> check_parameters({"seed": 0, "quick": False, "device": "auto", "n_folds": 5},
...                  n_folds=Int(2))
>>> check_parameters({"seed": 0, "quick": False, "device": "tpu"})
Traceback (most recent call last):
...
ValueError: parameter device = 'tpu' is invalid: it must be "auto", "cpu", "cuda" or "cuda:N" (N = 0, 1, ...)
"""

from __future__ import annotations

import contextlib
import math
import numbers
import re
import warnings
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "STANDARD",
    "Bool",
    "Choice",
    "Device",
    "Int",
    "ListOf",
    "Optional",
    "Real",
    "Rule",
    "WarningLog",
    "check_parameters",
    "glue",
    "glue_figure",
    "limit_blas_threads",
]


class Rule:
    """What one parameter may be: :meth:`check` raises, ``str(rule)`` says it in words."""

    def check(self, name: str, value: Any) -> None:
        """Raise TypeError (wrong kind) or ValueError (out of range) naming ``name``."""
        raise NotImplementedError

    def _fail(self, error: type[Exception], name: str, value: Any) -> Exception:
        return error(f"parameter {name} = {value!r} is invalid: it must be {self}")


@dataclass(frozen=True)
class Bool(Rule):
    """True or False."""

    def check(self, name: str, value: Any) -> None:
        if not isinstance(value, bool):
            raise self._fail(TypeError, name, value)

    def __str__(self) -> str:
        return "True or False"


@dataclass(frozen=True)
class Int(Rule):
    """An integer in [low, high] (either bound may be None); booleans are not integers."""

    low: int | None = None
    high: int | None = None

    def check(self, name: str, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise self._fail(TypeError, name, value)
        number = int(value)
        if (self.low is not None and number < self.low) or (
            self.high is not None and number > self.high
        ):
            raise self._fail(ValueError, name, value)

    def __str__(self) -> str:
        if self.low is not None and self.high is not None:
            return f"an integer from {self.low} to {self.high}"
        if self.low is not None:
            return f"an integer >= {self.low}"
        if self.high is not None:
            return f"an integer <= {self.high}"
        return "an integer"


@dataclass(frozen=True)
class Real(Rule):
    """A finite number strictly between ``low`` and ``high`` (open interval)."""

    low: float = -math.inf
    high: float = math.inf

    def check(self, name: str, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise self._fail(TypeError, name, value)
        number = float(value)
        if not (math.isfinite(number) and self.low < number < self.high):
            raise self._fail(ValueError, name, value)

    def __str__(self) -> str:
        if math.isinf(self.high):
            return f"a number > {self.low:g}" if math.isfinite(self.low) else "a finite number"
        return f"a number strictly between {self.low:g} and {self.high:g}"


@dataclass(frozen=True)
class Choice(Rule):
    """One of the given values."""

    values: tuple[Any, ...]

    def __init__(self, *values: Any) -> None:
        object.__setattr__(self, "values", values)

    def check(self, name: str, value: Any) -> None:
        if not any(value == v and type(value) is type(v) for v in self.values):
            raise self._fail(ValueError, name, value)

    def __str__(self) -> str:
        shown = [f'"{v}"' if isinstance(v, str) else repr(v) for v in self.values]
        return "one of " + ", ".join(shown)


@dataclass(frozen=True)
class Device(Rule):
    """A device as :func:`glmlib.resolve_device` takes it: "auto", "cpu", "cuda" or "cuda:N"."""

    def check(self, name: str, value: Any) -> None:
        if not isinstance(value, str):
            raise self._fail(TypeError, name, value)
        if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", value):
            raise self._fail(ValueError, name, value)

    def __str__(self) -> str:
        return '"auto", "cpu", "cuda" or "cuda:N" (N = 0, 1, ...)'


@dataclass(frozen=True)
class Optional(Rule):
    """None, or what ``rule`` allows."""

    rule: Rule

    def check(self, name: str, value: Any) -> None:
        if value is not None:
            try:
                self.rule.check(name, value)
            except (TypeError, ValueError) as err:
                raise self._fail(type(err), name, value) from None

    def __str__(self) -> str:
        return f"None or {self.rule}"


@dataclass(frozen=True)
class ListOf(Rule):
    """A non-empty list (or tuple) whose items all satisfy ``rule``."""

    rule: Rule

    def check(self, name: str, value: Any) -> None:
        if not isinstance(value, list | tuple):
            raise self._fail(TypeError, name, value)
        if len(value) == 0:
            raise self._fail(ValueError, name, value)
        for i, item in enumerate(value):
            self.rule.check(f"{name}[{i}]", item)

    def __str__(self) -> str:
        return f"a non-empty list, each item {self.rule}"


#: The parameters every chapter has, and what they may be.
STANDARD: Mapping[str, Rule] = {"seed": Int(0), "quick": Bool(), "device": Device()}


def check_parameters(values: Mapping[str, Any], **rules: Rule) -> None:
    """Check a chapter's parameters; raise at the first invalid one, naming it.

    Parameters
    ----------
    values : mapping of str to value
        The chapter's variables (``globals()`` in a notebook), holding at
        least every parameter in :data:`STANDARD` and in ``rules``.
    **rules : Rule
        What each of the chapter's own parameters may be, e.g.
        ``n_folds=Int(2)``, ``test_fraction=Real(0, 1)``.

    Raises
    ------
    TypeError
        For a value of the wrong kind (a string where a number belongs).
    ValueError
        For a value out of range, or a missing parameter.
    """
    for name, rule in {**STANDARD, **rules}.items():
        if not isinstance(rule, Rule):
            raise TypeError(f"the rule for {name} must be a glmlib.book.Rule, got {rule!r}")
        if name not in values:
            raise ValueError(f"parameter {name} is not defined (expected {rule})")
        rule.check(name, values[name])


def glue_figure(name: str, fig: Any) -> None:
    """Show a matplotlib figure and store it for the book under `name`.

    The chapter's markdown then places it as a numbered, captioned figure,
    cross-referenced with ``{numref}`name```::

        ```{glue:figure} name
        :name: name

        The caption.
        ```

    The code cell that calls this is tagged ``remove-output``, so the book
    shows the figure once, at the directive; Jupyter and Colab ignore the tag
    and show it under the cell. Where MyST-NB is not installed (Colab installs
    glmlib alone) the figure is only shown. The figure is closed afterwards, so
    the inline backend does not show it a second time.

    Parameters
    ----------
    name : str
        The glue key, used by ``{glue:figure}``; by convention also the
        figure's label (``fig-...``).
    fig : matplotlib.figure.Figure
        The figure.
    """
    import matplotlib.pyplot as plt

    try:
        from myst_nb import glue
    except ImportError:  # no book toolchain: show the figure as a plain output
        from IPython.display import display

        display(fig)
    else:
        glue(name, fig, display=True)
    plt.close(fig)


def glue(name: str, value: Any, display: bool = False) -> None:
    """Store a computed value for the chapter's prose under `name`.

    The markdown then states it with ``{glue:text}`name:.3f` `` (formatted) or
    ``{glue:}`name` `` (as displayed), so that a number in a sentence is the one
    the chapter computed, under any seed and in quick mode. This calls
    ``myst_nb.glue`` where MyST-NB is installed (the book's build) and does
    nothing elsewhere (Colab installs glmlib alone; the printed outputs next to
    the prose still say the numbers there).

    Parameters
    ----------
    name : str
        The glue key, unique in the chapter.
    value : object
        The value; numbers are formatted by the role's format spec. A NumPy
        scalar is stored as the Python number it holds.
    display : bool, default False
        Also show the value under the cell.
    """
    try:
        from myst_nb import glue as myst_glue
    except ImportError:  # no book toolchain: nothing to store
        return
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        # A NumPy (or torch) scalar displays as "np.float64(...)", which the
        # {glue:text} role cannot format: store the Python number instead.
        value = value.item()
    myst_glue(name, value, display=display)


def limit_blas_threads(threads: int | None) -> list[str]:
    """Cap the BLAS thread pools at ``threads`` (None: leave them) and describe them.

    glmlib factorises many small matrices; on a small shared machine, BLAS
    threads competing for the same cores slow that down. The limit holds for
    the rest of the process.

    Returns
    -------
    list of str
        One ``"<api> x<threads>"`` entry per thread pool after the limit.
    """
    from threadpoolctl import threadpool_info, threadpool_limits

    if threads is not None:
        threadpool_limits(threads, user_api="blas")
    return [f"{i['internal_api']} x{i['num_threads']}" for i in threadpool_info()]


class WarningLog:
    """Warnings recorded under labels instead of printed, each distinct one shown once.

    A chapter that fits many rank-deficient or separated models on purpose
    records glmlib's (correct) warnings and prints each distinct message
    with its count where it matters. A message is shortened to its first
    sentence.

    Examples
    --------
    >>> import warnings
    >>> log = WarningLog()
    >>> for _ in range(2):
    ...     with log.record("fits"):
    ...         warnings.warn("X is rank deficient. Details follow.", UserWarning)
    >>> log.show("fits")
      [fits] 2 x UserWarning: X is rank deficient
    >>> log.count("fits", "rank deficient"), log.count("other")
    (2, 0)
    """

    def __init__(self) -> None:
        self.counts: dict[str, Counter[str]] = {}

    @contextlib.contextmanager
    def record(self, label: str) -> Iterator[None]:
        """Record the warnings raised in the block under ``label``."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
        counts = self.counts.setdefault(label, Counter())
        for w in caught:
            message = str(w.message).split(". ")[0].split("; ")[0]
            counts[f"{w.category.__name__}: {message}"] += 1

    def show(self, label: str) -> None:
        """Print each distinct warning recorded under ``label`` with its count."""
        for message, count in sorted(self.counts.get(label, Counter()).items()):
            print(f"  [{label}] {count} x {message}")

    def count(self, label: str, contains: str = "") -> int:
        """How many warnings under ``label`` have ``contains`` in their message."""
        return sum(n for m, n in self.counts.get(label, Counter()).items() if contains in m)
