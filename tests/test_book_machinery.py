"""glmlib.book's chapter machinery: glue, BLAS thread limits and the warning log."""

from __future__ import annotations

import sys
import warnings

import pytest

from glmlib.book import WarningLog, glue, limit_blas_threads


def test_glue_calls_myst_nb_without_display_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    import myst_nb

    glued = []
    monkeypatch.setattr(myst_nb, "glue", lambda n, v, display: glued.append((n, v, display)))
    glue("n_kept", 21)
    glue("shown", 0.5, display=True)
    assert glued == [("n_kept", 21, False), ("shown", 0.5, True)]


def test_glue_without_myst_nb_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "myst_nb", None)  # as on Colab: import fails
    assert glue("n_kept", 21) is None


def test_limit_blas_threads_sets_the_limit_and_describes_the_pools() -> None:
    from threadpoolctl import threadpool_info, threadpool_limits

    with threadpool_limits(limits=None):  # restore the pools' limits afterwards
        pools = limit_blas_threads(1)
        blas = [i for i in threadpool_info() if i["user_api"] == "blas"]
        assert all(i["num_threads"] == 1 for i in blas)
        assert pools == [f"{i['internal_api']} x{i['num_threads']}" for i in threadpool_info()]
        assert limit_blas_threads(None) == pools  # None leaves the pools as they are


def test_warning_log_records_counts_and_shows_each_message_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    log = WarningLog()
    for _ in range(3):
        with log.record("fits"):
            warnings.warn("X is rank deficient. Minimum-norm solution.", UserWarning)
            warnings.warn("separated; probabilities of 0 or 1", RuntimeWarning)
    with log.record("other"):
        pass
    log.show("fits")
    log.show("other")
    log.show("never used")
    assert capsys.readouterr().out.splitlines() == [
        "  [fits] 3 x RuntimeWarning: separated",
        "  [fits] 3 x UserWarning: X is rank deficient",
    ]
    assert log.count("fits") == 6
    assert log.count("fits", "rank deficient") == 3
    assert log.count("other") == log.count("never used") == 0


def test_warning_log_does_not_swallow_warnings_outside_a_block() -> None:
    log = WarningLog()
    with log.record("fits"):
        warnings.warn("inside", UserWarning)
    with pytest.warns(UserWarning, match="outside"):
        warnings.warn("outside", UserWarning)
    assert log.count("fits", "inside") == 1
