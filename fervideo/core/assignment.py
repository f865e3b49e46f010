"""Optimal one-to-one assignment (the linear sum assignment problem) for the small matrices of tracking.

ByteTrack matches a frame's faces to its tracks by the assignment that maximises the summed
IoU. SciPy's ``linear_sum_assignment`` solves it, but importing ``scipy.optimize`` costs about
0.4 s, more than all the matching of a long video: a frame has a handful of faces, so the
Hungarian method with potentials (Kuhn-Munkres as in Jonker and Volgenant's shortest
augmenting paths), one numpy pass over the columns per step, takes microseconds here.
``tests/core/test_assignment.py`` checks it against SciPy on random matrices.
"""

from __future__ import annotations

import numpy as np


def linear_sum_assignment(cost: np.ndarray, maximize: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of an optimal assignment of ``cost`` (n, m), as SciPy returns them.

    ``min(n, m)`` pairs, rows ascending; the summed cost is minimal (maximal with
    ``maximize``). Entries must be finite.
    """
    c = np.asarray(cost, dtype=np.float64)
    if c.ndim != 2:
        raise ValueError(f"cost must be a 2-D matrix, got shape {c.shape}")
    if not np.isfinite(c).all():
        raise ValueError("cost must be finite")
    if maximize:
        c = -c
    n, m = c.shape
    if n == 0 or m == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    transposed = n > m
    if transposed:
        c, n, m = c.T, m, n
    # Potentials u (rows) and v (columns); column 0 is a virtual start. p[j]: the row (1-based)
    # holding column j; way[j]: the column before j on the augmenting path.
    u = np.zeros(n + 1)
    v = np.zeros(m + 1)
    p = np.zeros(m + 1, np.int64)
    way = np.zeros(m + 1, np.int64)
    for i in range(1, n + 1):
        p[0] = i
        j0 = 0
        minv = np.full(m + 1, np.inf)
        used = np.zeros(m + 1, bool)
        while True:
            used[j0] = True
            i0 = p[j0]
            reduced = c[i0 - 1] - u[i0] - v[1:]
            free = ~used[1:]
            better = free & (reduced < minv[1:])
            minv[1:][better] = reduced[better]
            way[1:][better] = j0
            masked = np.where(free, minv[1:], np.inf)
            j1 = int(np.argmin(masked)) + 1
            delta = masked[j1 - 1]
            cols = np.flatnonzero(used)
            u[p[cols]] += delta
            v[cols] -= delta
            minv[1:][free] -= delta
            j0 = j1
            if p[j0] == 0:
                break
        while j0:
            j1 = way[j0]
            p[j0] = p[j1]
            j0 = j1
    cols = np.flatnonzero(p[1:]) + 1
    rows = p[cols] - 1
    cols = cols - 1
    if transposed:
        rows, cols = cols, rows
    order = np.argsort(rows, kind="stable")
    return rows[order].astype(np.int64), cols[order].astype(np.int64)
