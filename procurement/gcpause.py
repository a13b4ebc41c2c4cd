"""Python's cyclic garbage collector paused while large, acyclic structures are made.

Loading 25,000 sites, building a model of millions of PuLP objects and
pricing its plan allocate objects without reference cycles, yet every
collection walks all the live ones: at 25,000 sites the collector took 1.9 s
of a 11.7 s ``solve`` (measured with the collector off for the whole run).
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


def without_gc(fn: Callable[P, R]) -> Callable[P, R]:
    """Run ``fn`` with the cyclic collector paused (nested calls keep it paused).

    Reference counting still frees everything at once; the collector resumes
    (and catches up on any cycles) when the outermost call returns.
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            if enabled:
                gc.enable()

    return wrapper
