"""One BLAS thread per process: numpy's products here are small, and extra threads spin.

numpy's OpenBLAS starts a thread per core and, after each product (or long
dot product) it shares out, keeps the extra threads spinning for a while in
case more work comes. Nothing here multiplies arrays large enough to gain
from a second thread (the local search's are a few thousand combos by a few
dozen suppliers), but the spinning costs a core: in each coalition worker it
took a quarter of one, from the other worker (the first 200 coalitions of
the 1,000-site, ten-organisation Shapley game: 74 s on two workers, 49 s with
one BLAS thread each), and 0.4 s of CPU in a 500-site solve of 1.4 s.

Processes this package owns call :func:`use_one_blas_thread` once: the
``hscn-procure`` command, the Streamlit app and every worker process. A
notebook importing the library keeps its own setting.
"""

from __future__ import annotations

_limited = False


def use_one_blas_thread() -> None:
    """Limit this process's BLAS libraries to one thread (once; later calls do nothing)."""
    global _limited
    if _limited:
        return
    import numpy  # noqa: F401  (loads OpenBLAS: only loaded libraries can be limited)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
    _limited = True
