"""Progress bars that never warn: tqdm's notebook widget only where ipywidgets is installed."""

from __future__ import annotations

import importlib.util
from typing import Any


def progress_bar(total: int, enabled: bool, **kwargs: Any) -> Any:
    """A tqdm bar: the notebook widget when ipywidgets is importable, else text.

    ``tqdm.auto`` warns ("IProgress not found") in a notebook without
    ipywidgets, as soon as it is imported; this chooses the text bar there
    instead, and imports nothing from tqdm until a bar is made.

    Parameters
    ----------
    total : int
        Number of steps.
    enabled : bool
        Show the bar; a disabled bar still counts (``update`` is a no-op).
    **kwargs
        Passed to ``tqdm`` (``desc``, ``unit``, ``initial``, ...).

    Returns
    -------
    tqdm.tqdm
    """
    if enabled and importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.auto import tqdm
    else:
        from tqdm.std import tqdm
    return tqdm(total=total, disable=not enabled, **kwargs)
