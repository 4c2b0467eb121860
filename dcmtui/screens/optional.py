"""Features that need an optional compiled package (numpy, image codecs).

The single-file bundle holds only pure-Python packages, and a server's Python
may lack numpy: an action that needs one must say so, not crash the app.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from textual.widget import Widget

P = ParamSpec("P")
R = TypeVar("R")
N = TypeVar("N", bound="Widget")

_PACKAGES = {"numpy": "numpy", "PIL": "pillow", "pylibjpeg": "pylibjpeg"}


def missing_message(exc: ModuleNotFoundError) -> str:
    """A sentence naming the package to install."""
    top = (exc.name or "").split(".")[0] or "a package"
    package = _PACKAGES.get(top, top)
    return (
        f"This needs {package}, which this Python does not have: "
        f"pip install {package} (or apt-get install python3-{package})."
    )


def optional_feature(
    action: Callable[Concatenate[N, P], R],
) -> Callable[Concatenate[N, P], R | None]:
    """Turn a missing optional package in ``action`` into a notification."""

    @functools.wraps(action)
    def wrapper(self: N, *args: P.args, **kwargs: P.kwargs) -> R | None:
        try:
            return action(self, *args, **kwargs)
        except ModuleNotFoundError as exc:
            self.notify(missing_message(exc), severity="error", timeout=10)
            return None

    return wrapper
