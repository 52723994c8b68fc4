"""Numba kernels for exact best-box search on fixed-point (int64) saliency maps.

Every kernel works on an integer map ``q`` produced by :func:`saliencyaug.boxes.search`'s
quantisation, so box sums are exact and ties are exact. The tie rule (docs/method.md,
section 2) is implemented everywhere by :func:`_key_better`: larger objective first, then the
smaller box, then the first box in row-major order of ``(y0, x0, y1, x1)``.

Algorithms:

* :func:`max_sum_box` -- best-first branch and bound over intervals of the top and bottom row,
  in the spirit of Efficient Subwindow Search (Lampert, Blaschko & Hofmann, CVPR 2008), with a
  tighter bound than ESS's: for a set of row bands it runs an exact 1-D maximum-subarray
  (Kadane) over the per-column upper bounds, so a single band's bound is its exact optimum. A
  work budget caps the search; past it the remaining nodes are solved band by band, so the
  worst case (uniform noise) costs about one plain O(H^2 W) maximum-subarray pass.
* :func:`fixed_size_box` -- sliding-window sums, O(HW).
* ``brute_force_*`` -- every box, O(H^2 W^2), the reference the tests compare against.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

_NEG_INF = -(2**63) + 1


@nb.njit(cache=True, inline="always")
def _key_better(v, area, y0, x0, y1, x1, bv, barea, by0, bx0, by1, bx1):
    """True if box ``(v, area, y0, x0, y1, x1)`` beats the incumbent under the tie rule."""
    if v != bv:
        return v > bv
    if area != barea:
        return area < barea
    if y0 != by0:
        return y0 < by0
    if x0 != bx0:
        return x0 < bx0
    if y1 != by1:
        return y1 < by1
    return x1 < bx1


# ----------------------------------------------------------------------------------------
# Validation and quantisation
# ----------------------------------------------------------------------------------------


@nb.njit(cache=True)
def map_stats(s):
    """One pass over a 2-D map: (all finite, min, max).

    Branch-free so that it vectorises: ``v * 0`` is NaN exactly when ``v`` is NaN or inf.
    """
    lo = np.inf
    hi = -np.inf
    poison = 0.0
    for y in range(s.shape[0]):
        for x in range(s.shape[1]):
            v = np.float64(s[y, x])
            poison += v * 0.0
            lo = min(lo, v)
            hi = max(hi, v)
    return poison == 0.0, lo, hi


@nb.njit(cache=True)
def mean_shift(n, absmax):
    """Power-of-two exponent k with ``n * absmax * 2**k < 2**61`` (see :func:`exact_mean`)."""
    e = math.frexp(absmax)[1]  # absmax < 2**e
    nbits = 0
    while (1 << nbits) <= n:
        nbits += 1
    return 61 - nbits - e


@nb.njit(cache=True)
def exact_mean(s, absmax):
    """Mean of a 2-D map that does not depend on summation order.

    Each value is scaled by an exact power of two (as two multiplications, so that the power
    itself never overflows; identical to ``ldexp`` wherever the result can round to a non-zero
    integer) and rounded to int64, so that the sum of all of them is exact; the CPU, batched
    and torch paths therefore agree bit for bit on ``tau`` and hence on the fixed-point map.
    Accurate to about 2**-60 of ``absmax`` times the size.
    """
    if absmax == 0:
        return 0.0
    k = mean_shift(s.size, absmax)
    k1 = k // 2
    p1 = math.ldexp(1.0, k1)
    p2 = math.ldexp(1.0, k - k1)
    total = np.int64(0)
    for y in range(s.shape[0]):
        for x in range(s.shape[1]):
            v = np.float64(s[y, x]) * p1 * p2
            total += np.int64(np.floor(v + 0.5))
    return np.float64(total) / s.size / p1 / p2


@nb.njit(cache=True)
def excess_scale(h, w):
    """Fixed-point range for ``excess``: |q| <= 2**61 / (h w), so no sum, prefix or bound
    difference of the search leaves int64."""
    return np.float64(2**61 // (h * w))


@nb.njit(cache=True)
def fixed_scale(bh, bw):
    """Fixed-point range for ``fixed`` windows of ``bh x bw`` pixels."""
    return np.float64(2**61 // (bh * bw))


@nb.njit(cache=True)
def mean_scale(h, w, max_area):
    """Fixed-point range for ``mean``: Dinkelbach forms ``q * den - num`` with
    ``den <= max_area`` and sums it over ``h * w`` pixels."""
    return np.float64(max(1, 2**60 // (h * w * max_area)))


@nb.njit(cache=True)
def quantize(s, offset, span, scale):
    """``floor((s - offset) / span * scale + 0.5)`` as int64 (round half up).

    Dividing by ``span`` first keeps tiny maps (1e-300) from overflowing the scale.
    """
    h, w = s.shape
    q = np.empty((h, w), dtype=np.int64)
    for y in range(h):
        for x in range(w):
            v = (np.float64(s[y, x]) - offset) / span * scale
            q[y, x] = np.int64(np.floor(v + 0.5))
    return q


# ----------------------------------------------------------------------------------------
# 1-D solvers on a row band's column sums
# ----------------------------------------------------------------------------------------


@nb.njit(cache=True, inline="always")
def _band_u(cp, cn, a, b, c, d, x):
    """Upper bound of column ``x``'s sum over every band [y0, y1) with a<=y0<=b, c<=y1<=d."""
    u = cp[d, x] - cp[a, x]
    if c > b:
        u -= cn[c, x] - cn[b, x]
    return u


@nb.njit(cache=True)
def _kadane_band(cp, cn, a, b, c, d, w):
    """Max-sum interval of the band bound vector, any length. Returns (value, x0, x1).

    Ties: the shortest interval, then the leftmost.
    """
    run = np.int64(0)
    run_min = np.int64(0)
    arg_min = 0
    best = np.int64(_NEG_INF)
    bx0 = 0
    bx1 = 1
    for x in range(w):
        run += _band_u(cp, cn, a, b, c, d, x)
        val = run - run_min
        if val > best or (val == best and x + 1 - arg_min < bx1 - bx0):
            best = val
            bx0 = arg_min
            bx1 = x + 1
        if run <= run_min:  # '<=' keeps the latest minimum: the shortest interval on ties
            run_min = run
            arg_min = x + 1
    return best, bx0, bx1


@nb.njit(cache=True)
def _kadane_leaf(cq, y0, y1, w):
    """Exact max-sum interval of one band's column sums ``cq[y1] - cq[y0]``; ties as above."""
    run = np.int64(0)
    run_min = np.int64(0)
    arg_min = 0
    best = np.int64(_NEG_INF)
    bx0 = 0
    bx1 = 1
    top = cq[y0]
    bottom = cq[y1]
    for x in range(w):
        run += bottom[x] - top[x]
        val = run - run_min
        if val > best or (val == best and x + 1 - arg_min < bx1 - bx0):
            best = val
            bx0 = arg_min
            bx1 = x + 1
        if run <= run_min:
            run_min = run
            arg_min = x + 1
    return best, bx0, bx1


@nb.njit(cache=True)
def _windowed_band(cp, cn, a, b, c, d, w, lmin, lmax, prefix, dq):
    """Max-sum interval with length in [lmin, lmax] (monotone deque). Returns (value, x0, x1).

    ``prefix`` (w + 1) and ``dq`` (w + 1) are scratch buffers. Ties as :func:`_kadane_band`.
    """
    best = np.int64(_NEG_INF)
    bx0 = -1
    bx1 = -1
    if lmin > w:
        return best, bx0, bx1
    prefix[0] = 0
    for x in range(w):
        prefix[x + 1] = prefix[x] + _band_u(cp, cn, a, b, c, d, x)
    head = 0
    tail = 0
    for x1 in range(lmin, w + 1):
        new = x1 - lmin
        # keep prefix values strictly increasing; an equal newer index replaces the older one
        while tail > head and prefix[dq[tail - 1]] >= prefix[new]:
            tail -= 1
        dq[tail] = new
        tail += 1
        while dq[head] < x1 - lmax:
            head += 1
        x0 = dq[head]
        val = prefix[x1] - prefix[x0]
        if val > best or (val == best and x1 - x0 < bx1 - bx0):
            best = val
            bx0 = x0
            bx1 = x1
    return best, bx0, bx1


# ----------------------------------------------------------------------------------------
# Branch and bound over row intervals
# ----------------------------------------------------------------------------------------


@nb.njit(cache=True, inline="always")
def _ceil_div(a, b):
    return -((-a) // b)


@nb.njit(cache=True)
def _tighten(a, b, c, d, hmin, hmax):
    """Shrink y0 in [a, b], y1 in [c, d] to pairs with hmin <= y1 - y0 <= hmax."""
    c = max(c, a + hmin)
    d = min(d, b + hmax)
    b = min(b, d - hmin)
    a = max(a, c - hmax)
    return a, b, c, d, (a <= b and c <= d)


@nb.njit(cache=True)
def _node_bound(cp, cn, a, b, c, d, w, hmax_node, wmin, wmax, amin, prefix, dq):
    lmin = wmin
    if amin > 0:
        lmin = max(lmin, _ceil_div(amin, hmax_node))
    if lmin <= 1 and wmax >= w:
        return _kadane_band(cp, cn, a, b, c, d, w)
    return _windowed_band(cp, cn, a, b, c, d, w, lmin, wmax, prefix, dq)


@nb.njit(cache=True)
def max_sum_box(q, hmin, hmax, wmin, wmax, amin, budget):
    """Exact max-sum box of ``q`` with height in [hmin, hmax], width in [wmin, wmax], area >= amin.

    Args:
        q: int64 (H, W) map.
        hmin: smallest box height (1 <= hmin <= hmax).
        hmax: largest box height.
        wmin: smallest box width (1 <= wmin <= wmax).
        wmax: largest box width.
        amin: minimum area (0 for none).
        budget: number of multi-band bound evaluations before switching to per-band solving.

    Returns:
        (found, value, y0, x0, y1, x1, evaluations). ``found`` is False when no box satisfies
        the limits.
    """
    h, w = q.shape
    cp = np.empty((h + 1, w), dtype=np.int64)
    cn = np.empty((h + 1, w), dtype=np.int64)
    cq = np.empty((h + 1, w), dtype=np.int64)
    row_pos = np.zeros(h + 1, dtype=np.int64)  # prefix over rows of the positive mass
    cp[0] = 0
    cn[0] = 0
    cq[0] = 0
    for y in range(h):
        mass = np.int64(0)
        for x in range(w):  # branch-free, vectorised
            v = q[y, x]
            pos = max(v, 0)
            cp[y + 1, x] = cp[y, x] + pos
            cn[y + 1, x] = cn[y, x] + (pos - v)
            cq[y + 1, x] = cq[y, x] + v
            mass += pos
        row_pos[y + 1] = row_pos[y] + mass
    prefix = np.empty(w + 1, dtype=np.int64)
    dq = np.empty(w + 1, dtype=np.int64)

    bv = np.int64(_NEG_INF)
    barea = np.int64(2**62)
    by0 = bx0 = by1 = bx1 = 0
    found = False

    cap = 1024
    hb = np.empty(cap, dtype=np.int64)  # heap of bounds (max-heap)
    hn = np.empty((cap, 4), dtype=np.int64)  # node (a, b, c, d)
    size = 0
    evals = 0

    a0, b0, c0, d0, ok = _tighten(0, h - 1, 1, h, hmin, hmax)
    pending = np.empty((2, 4), dtype=np.int64)
    pending[0, 0] = a0
    pending[0, 1] = b0
    pending[0, 2] = c0
    pending[0, 3] = d0
    npending = 1 if ok else 0
    exhaustive = False

    while True:
        # evaluate pending children (at most two), push non-leaves, settle leaves
        for i in range(npending):
            a = pending[i, 0]
            b = pending[i, 1]
            c = pending[i, 2]
            d = pending[i, 3]
            hmax_node = min(d - a, hmax)
            val, x0, x1 = _node_bound(
                cp, cn, a, b, c, d, w, hmax_node, wmin, wmax, amin, prefix, dq
            )
            evals += 1
            if x0 < 0:
                continue  # no interval of admissible width
            if a == b and c == d:
                area = (c - a) * (x1 - x0)
                if _key_better(val, area, a, x0, c, x1, bv, barea, by0, bx0, by1, bx1):
                    bv = val
                    barea = area
                    by0 = a
                    bx0 = x0
                    by1 = c
                    bx1 = x1
                    found = True
                continue
            if found and val < bv:
                continue
            if size == cap:
                cap *= 2
                hb2 = np.empty(cap, dtype=np.int64)
                hn2 = np.empty((cap, 4), dtype=np.int64)
                hb2[:size] = hb[:size]
                hn2[:size] = hn[:size]
                hb = hb2
                hn = hn2
            # sift up
            j = size
            size += 1
            while j > 0:
                p = (j - 1) >> 1
                if hb[p] >= val:
                    break
                hb[j] = hb[p]
                hn[j] = hn[p]
                j = p
            hb[j] = val
            hn[j, 0] = a
            hn[j, 1] = b
            hn[j, 2] = c
            hn[j, 3] = d
        npending = 0
        if size == 0:
            break
        if evals > budget:
            exhaustive = True
            break
        # pop the max
        top_bound = hb[0]
        a = hn[0, 0]
        b = hn[0, 1]
        c = hn[0, 2]
        d = hn[0, 3]
        size -= 1
        if size > 0:
            lb = hb[size]
            l0 = hn[size, 0]
            l1 = hn[size, 1]
            l2 = hn[size, 2]
            l3 = hn[size, 3]
            j = 0
            while True:
                k = 2 * j + 1
                if k >= size:
                    break
                if k + 1 < size and hb[k + 1] > hb[k]:
                    k += 1
                if hb[k] <= lb:
                    break
                hb[j] = hb[k]
                hn[j] = hn[k]
                j = k
            hb[j] = lb
            hn[j, 0] = l0
            hn[j, 1] = l1
            hn[j, 2] = l2
            hn[j, 3] = l3
        if found and top_bound < bv:
            break  # every remaining node is bounded below the incumbent
        if found and top_bound == bv:
            min_h = max(c - b, hmin, 1)
            min_w = max(wmin, 1)
            if amin > 0:
                min_w = max(min_w, _ceil_div(amin, min(d - a, hmax)))
            if min_h * min_w > barea:
                continue  # cannot hold a tie with a smaller box
        # split the longer interval
        if b - a >= d - c:
            m = (a + b) >> 1
            r0 = _tighten(a, m, c, d, hmin, hmax)
            r1 = _tighten(m + 1, b, c, d, hmin, hmax)
        else:
            m = (c + d) >> 1
            r0 = _tighten(a, b, c, m, hmin, hmax)
            r1 = _tighten(a, b, m + 1, d, hmin, hmax)
        if r0[4]:
            pending[npending, 0] = r0[0]
            pending[npending, 1] = r0[1]
            pending[npending, 2] = r0[2]
            pending[npending, 3] = r0[3]
            npending += 1
        if r1[4]:
            pending[npending, 0] = r1[0]
            pending[npending, 1] = r1[1]
            pending[npending, 2] = r1[2]
            pending[npending, 3] = r1[3]
            npending += 1

    if exhaustive:
        plain = wmin <= 1 and wmax >= w and amin <= 0
        # Solve every band of every open node exactly; nodes are disjoint, so this is at most
        # one pass over all bands, the cost of a plain O(H^2 W) maximum-subarray search.
        for i in range(size):
            if found and hb[i] < bv:
                continue
            for y0 in range(hn[i, 0], hn[i, 1] + 1):
                lo = max(hn[i, 2], y0 + hmin)
                hi = min(hn[i, 3], y0 + hmax)
                for y1 in range(lo, hi + 1):
                    if found and row_pos[y1] - row_pos[y0] < bv:
                        continue  # the band's positive mass cannot reach the incumbent
                    if plain:
                        val, x0, x1 = _kadane_leaf(cq, y0, y1, w)
                    else:
                        val, x0, x1 = _node_bound(
                            cp, cn, y0, y0, y1, y1, w, y1 - y0, wmin, wmax, amin, prefix, dq
                        )
                    evals += 1
                    if x0 < 0:
                        continue
                    area = (y1 - y0) * (x1 - x0)
                    if _key_better(val, area, y0, x0, y1, x1, bv, barea, by0, bx0, by1, bx1):
                        bv = val
                        barea = area
                        by0 = y0
                        bx0 = x0
                        by1 = y1
                        bx1 = x1
                        found = True
    return found, bv, by0, bx0, by1, bx1, evals


@nb.njit(cache=True)
def quantize_support(s, offset, span, scale):
    """:func:`quantize` plus the rectangle spanned by the positive entries.

    Returns:
        (q, y0, y1, x0, x1); ``y0 == h`` when no entry is positive.
    """
    h, w = s.shape
    q = np.empty((h, w), dtype=np.int64)
    row_max = np.empty(h, dtype=np.int64)
    for y in range(h):
        m = np.int64(-(2**62))
        for x in range(w):  # branch-free, vectorised
            r = np.int64(np.floor((np.float64(s[y, x]) - offset) / span * scale + 0.5))
            q[y, x] = r
            m = max(m, r)
        row_max[y] = m
    y0 = h
    y1 = 0
    x0 = w
    x1 = 0
    for y in range(h):
        if row_max[y] <= 0:
            continue
        if y0 == h:
            y0 = y
        y1 = y + 1
        x = 0
        while x < x0 and q[y, x] <= 0:  # only scan left of the support found so far
            x += 1
        x0 = min(x0, x)
        x = w - 1
        while x >= x1 and q[y, x] <= 0:
            x -= 1
        x1 = max(x1, x + 1)
    return q, y0, y1, x0, x1


@nb.njit(cache=True)
def excess_box(q, ry0, ry1, rx0, rx1, budget_fraction):
    """Exact max-sum box of ``q`` (no size limits). Returns (value, y0, x0, y1, x1, evals).

    ``[ry0, ry1) x [rx0, rx1)`` is the bounding rectangle of the positive entries (see
    :func:`quantize_support`): the optimal box of the tie rule never starts or ends on a row
    or column strip with non-positive sum (dropping it keeps the value and shrinks the box),
    so the search runs inside it. Requires at least one positive entry.
    """
    sub = q[ry0:ry1, rx0:rx1]
    hh = ry1 - ry0
    ww = rx1 - rx0
    budget = max(64, np.int64(budget_fraction * hh * (hh + 1) / 2))
    _, v, y0, x0, y1, x1, evals = max_sum_box(sub, 1, hh, 1, ww, 0, budget)
    return v, y0 + ry0, x0 + rx0, y1 + ry0, x1 + rx0, evals


# ----------------------------------------------------------------------------------------
# Mean objective: Dinkelbach iterations over max_sum_box
# ----------------------------------------------------------------------------------------


@nb.njit(cache=True)
def _box_sum(q, y0, x0, y1, x1):
    s = np.int64(0)
    for y in range(y0, y1):
        for x in range(x0, x1):
            s += q[y, x]
    return s


@nb.njit(cache=True)
def mean_box(q, hmin, hmax, wmin, wmax, amin, y0, x0, y1, x1, budget_fraction):
    """Exact max-mean box of non-negative ``q`` under size limits (Dinkelbach's method).

    Starting from the feasible box ``(y0, x0, y1, x1)`` with mean t = num / den, each step
    maximises ``sum(q * den - num)`` over admissible boxes; the maximum is 0 exactly when no box
    has a larger mean, and the maximiser of the tie rule is then the tie-rule optimum of the
    mean. Returns (y0, x0, y1, x1, iterations).
    """
    h, w = q.shape
    num = _box_sum(q, y0, x0, y1, x1)
    den = np.int64((y1 - y0) * (x1 - x0))
    g = np.empty((h, w), dtype=np.int64)
    nbands = (hmax - hmin + 1) * h
    budget = max(64, np.int64(budget_fraction * nbands))
    it = 0
    while True:
        it += 1
        for y in range(h):
            for x in range(w):
                g[y, x] = q[y, x] * den - num
        _, v, y0, x0, y1, x1, _ = max_sum_box(g, hmin, hmax, wmin, wmax, amin, budget)
        if v <= 0:
            return y0, x0, y1, x1, it
        num = _box_sum(q, y0, x0, y1, x1)
        den = np.int64((y1 - y0) * (x1 - x0))


# ----------------------------------------------------------------------------------------
# Fixed-size window
# ----------------------------------------------------------------------------------------


@nb.njit(cache=True)
def fixed_size_box(s, bh, bw):
    """Window of ``bh x bw`` with the largest sum; ties: first in row-major order.

    ``s`` is an int64 map; the sums are exact.
    """
    h, w = s.shape
    col = np.zeros(w, dtype=np.int64)
    for y in range(bh):
        for x in range(w):
            col[x] += s[y, x]
    best = np.int64(_NEG_INF)
    by = 0
    bx = 0
    for y0 in range(h - bh + 1):
        if y0 > 0:
            for x in range(w):
                col[x] += s[y0 + bh - 1, x] - s[y0 - 1, x]
        run = np.int64(0)
        for x in range(bw):
            run += col[x]
        if run > best:
            best = run
            by = y0
            bx = 0
        for x0 in range(1, w - bw + 1):
            run += col[x0 + bw - 1] - col[x0 - 1]
            if run > best:
                best = run
                by = y0
                bx = x0
    return by, bx, by + bh, bx + bw


# ----------------------------------------------------------------------------------------
# Brute-force references
# ----------------------------------------------------------------------------------------


@nb.njit(cache=True)
def _integral(q):
    h, w = q.shape
    ii = np.zeros((h + 1, w + 1), dtype=np.int64)
    for y in range(h):
        row = np.int64(0)
        for x in range(w):
            row += q[y, x]
            ii[y + 1, x + 1] = ii[y, x + 1] + row
    return ii


@nb.njit(cache=True)
def _mul_split(a, b):
    """a * b for 0 <= a < 2**62, 0 <= b < 2**31 as (high, low) with value high * 2**31 + low."""
    mask = np.int64((1 << 31) - 1)
    hi = (a >> 31) * b
    lo = (a & mask) * b
    hi += lo >> 31
    lo &= mask
    return hi, lo


@nb.njit(cache=True)
def frac_cmp(s1, a1, s2, a2):
    """Sign of s1/a1 - s2/a2 for non-negative int64 sums < 2**62 and areas < 2**31, exactly."""
    h1, l1 = _mul_split(s1, a2)
    h2, l2 = _mul_split(s2, a1)
    if h1 != h2:
        return 1 if h1 > h2 else -1
    if l1 != l2:
        return 1 if l1 > l2 else -1
    return 0


@nb.njit(cache=True)
def brute_force_sum(q, hmin, hmax, wmin, wmax, amin):
    """Every admissible box; max sum with the tie rule. Returns (found, value, y0, x0, y1, x1)."""
    h, w = q.shape
    ii = _integral(q)
    bv = np.int64(_NEG_INF)
    barea = np.int64(2**62)
    by0 = bx0 = by1 = bx1 = 0
    found = False
    for y0 in range(h):
        for y1 in range(y0 + 1, h + 1):
            if y1 - y0 < hmin or y1 - y0 > hmax:
                continue
            for x0 in range(w):
                for x1 in range(x0 + 1, w + 1):
                    if x1 - x0 < wmin or x1 - x0 > wmax:
                        continue
                    area = (y1 - y0) * (x1 - x0)
                    if area < amin:
                        continue
                    v = ii[y1, x1] - ii[y0, x1] - ii[y1, x0] + ii[y0, x0]
                    if _key_better(v, area, y0, x0, y1, x1, bv, barea, by0, bx0, by1, bx1):
                        bv = v
                        barea = area
                        by0 = y0
                        bx0 = x0
                        by1 = y1
                        bx1 = x1
                        found = True
    return found, bv, by0, bx0, by1, bx1


@nb.njit(cache=True)
def brute_force_mean(q, hmin, wmin, amin):
    """Every box with height >= hmin, width >= wmin, area >= amin; max exact mean, tie rule."""
    h, w = q.shape
    ii = _integral(q)
    bs = np.int64(-1)
    barea = np.int64(1)
    by0 = bx0 = by1 = bx1 = 0
    found = False
    for y0 in range(h):
        for y1 in range(y0 + hmin, h + 1):
            for x0 in range(w):
                for x1 in range(x0 + wmin, w + 1):
                    area = np.int64((y1 - y0) * (x1 - x0))
                    if area < amin:
                        continue
                    s = ii[y1, x1] - ii[y0, x1] - ii[y1, x0] + ii[y0, x0]
                    if not found:
                        better = True
                    else:
                        c = frac_cmp(s, area, bs, barea)
                        if c != 0:
                            better = c > 0
                        else:
                            better = _key_better(
                                0, area, y0, x0, y1, x1, 0, barea, by0, bx0, by1, bx1
                            )
                    if better:
                        bs = s
                        barea = area
                        by0 = y0
                        bx0 = x0
                        by1 = y1
                        bx1 = x1
                        found = True
    return by0, bx0, by1, bx1
