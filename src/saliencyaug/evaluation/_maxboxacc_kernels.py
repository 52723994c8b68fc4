"""numba kernels of the fast MaxBoxAcc: the 8-connected components of every superlevel set of
a uint8 map, their holes, and the area of their outer contours, from one union-find pass over
the pixels in descending value order (and one over the background in ascending order).

For the binary map ``image >= values[j]`` (each distinct pixel value ``values[j]``):

* the bounding rectangle of a component's outer contour (``cv2.findContours`` traces
  foreground borders with 8-connectivity) is the component's bounding box;
* holes (4-connected background regions not reaching the image border) are counted through the
  Euler number ``E = components - holes``, kept up to date as pixels are added: the change of
  ``4 E`` (Gray's bit-quad formula for 8-connectivity, ``4 E = Q1 - Q3 - 2 QD`` over all 2x2
  quads) depends only on the 8 neighbours of the added pixel, so it is read from a 256-entry
  table; a hole contour's bounding rectangle is the hole's bounding box grown by one pixel;
* the area of an outer contour (for v1's "largest contour") comes from following the border
  with ``cv2.findContours``' own rule from the component's first pixel in raster order, and the
  shoelace formula over the pixel centres visited.

The per-pixel work reads one ``int32`` per neighbour (``parent``, -1 outside the set) into an
8-bit pattern, and makes one ``find`` per group of neighbours the pattern already connects
(one for an interior pixel); the components' fields are numbered rows of one small array. On a
375x500 map this pass takes about 3 ms; the background pass for holes runs only up to the
highest level where a hole's box could beat the components' boxes.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# neighbour bit k <-> offset (dy, dx), row-major around the pixel
_NEIGHBOURS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))


def _quad_value(cells: tuple[int, int, int, int]) -> int:
    a, b, c, d = cells  # top-left, top-right, bottom-left, bottom-right
    ones = a + b + c + d
    if ones == 1:
        return 1
    if ones == 3:
        return -1
    if ones == 2 and a == d:
        return -2
    return 0


def _euler_table() -> np.ndarray:
    """``4 E`` gained by setting the centre of a 3x3 patch, per neighbour pattern."""
    table = np.zeros(256, np.int64)
    for code in range(256):
        patch = np.zeros((3, 3), np.int64)
        for bit, (dy, dx) in enumerate(_NEIGHBOURS):
            patch[1 + dy, 1 + dx] = (code >> bit) & 1
        total = []
        for centre in (0, 1):
            patch[1, 1] = centre
            total.append(
                sum(
                    _quad_value(
                        (patch[y, x], patch[y, x + 1], patch[y + 1, x], patch[y + 1, x + 1])
                    )
                    for y in (0, 1)
                    for x in (0, 1)
                )
            )
        table[code] = total[1] - total[0]
    return table


EULER_GAIN = _euler_table()


def _group_root(
    group: dict[tuple[int, int], tuple[int, int]], cell: tuple[int, int]
) -> tuple[int, int]:
    while group[cell] != cell:
        cell = group[cell]
    return cell


def _representatives(connectivity: int) -> tuple[np.ndarray, np.ndarray]:
    """Per neighbour pattern (bit k set: neighbour k is in), one neighbour of each group that
    the pattern already connects without the centre, so the sweep makes one ``find`` per group
    instead of one per neighbour (an interior pixel: one). For 4-connectivity only the four
    edge neighbours are listed (corners may still join two of them)."""
    reps = np.zeros((256, 4), np.int64)
    counts = np.zeros(256, np.int64)
    for code in range(256):
        cells = [cell for bit, cell in enumerate(_NEIGHBOURS) if (code >> bit) & 1]
        group = {cell: cell for cell in cells}
        for a in cells:
            for b in cells:
                dy, dx = abs(a[0] - b[0]), abs(a[1] - b[1])
                if dy + dx == 1 or (connectivity == 8 and dy == dx == 1):
                    group[_group_root(group, a)] = _group_root(group, b)
        seen: list[tuple[int, int]] = []
        for bit, cell in enumerate(_NEIGHBOURS):
            if cell not in group or (connectivity == 4 and 0 not in cell):
                continue
            if _group_root(group, cell) not in seen:
                seen.append(_group_root(group, cell))
                reps[code, counts[code]] = bit
                counts[code] += 1
    return reps, counts


REPS_8, NREPS_8 = _representatives(8)
REPS_4, NREPS_4 = _representatives(4)


@njit(cache=True)
def best_iou(x0, y0, x1, y1, gt):
    """multiple_iou's inclusive-pixel IoU of one box against ``gt``, its best value; the same
    operations in the same order, so the same floats."""
    best = -1.0
    for g in range(gt.shape[0]):
        ix = max(0.0, min(float(x1), gt[g, 2]) - max(float(x0), gt[g, 0]) + 1.0)
        iy = max(0.0, min(float(y1), gt[g, 3]) - max(float(y0), gt[g, 1]) + 1.0)
        inter = ix * iy
        area_a = (float(x1) - float(x0) + 1.0) * (float(y1) - float(y0) + 1.0)
        area_b = (gt[g, 2] - gt[g, 0] + 1.0) * (gt[g, 3] - gt[g, 1] + 1.0)
        iou = inter / (area_a + area_b - inter)
        if iou > best:
            best = iou
    return best


@njit(cache=True)
def _value_order(image, values, stride):
    """Padded pixel indices sorted by value index (counting sort; raster order within a value),
    their columns and rows, and the bucket starts."""
    h, w = image.shape
    levels = values.shape[0]
    index_of = np.full(256, -1, np.int64)
    for j in range(levels):
        index_of[values[j]] = j
    counts = np.zeros(levels + 1, np.int64)
    for y in range(h):
        for x in range(w):
            counts[index_of[image[y, x]] + 1] += 1
    starts = np.cumsum(counts)
    order = np.empty(h * w, np.int32)
    xs = np.empty(h * w, np.int32)
    ys = np.empty(h * w, np.int32)
    fill = starts[:-1].copy()
    for y in range(h):
        for x in range(w):
            j = index_of[image[y, x]]
            k = fill[j]
            order[k] = (y + 1) * stride + (x + 1)
            xs[k] = x
            ys[k] = y
            fill[j] = k + 1
    return order, xs, ys, starts


# The union-find state. ``parent`` (one int32 per padded pixel): -1 for a pixel not in the set
# (the padding always), the parent pixel's index, or ``-2 - c`` at the root of component ``c``.
# Components are numbered as they are made, so their fields (one int32 row of ``comp`` each,
# the columns below) are packed together in memory, few, and hot in the cache; keeping them per
# root pixel instead touched a page per root and cost more than the sweep itself.
_WEIGHT, _X0, _Y0, _X1, _Y1, _FIRST, _SLOT = 0, 1, 2, 3, 4, 5, 6
_FIELDS = 8


@njit(cache=True, inline="always")
def _find(parent, q):
    """Root pixel of ``q``'s component, halving the path on the way."""
    r = q
    while parent[r] >= 0:
        r = parent[r]
    while q != r:
        nxt = parent[q]
        parent[q] = r
        q = nxt
    return r


@njit(cache=True)
def _add_pixels(order, xs, ys, lo, hi, parent, offsets, reps, nreps, comp, live, state, gain):
    """Put pixels ``order[lo:hi]`` in, each joined to the largest neighbouring component, which
    absorbs the others (a new component when it has no neighbour). One call per level: numba
    passes arrays to a call with reference counting, too slow per pixel.

    The 8 neighbours are read without branches into a pattern; the pattern's groups
    (``reps``/``nreps``, see :func:`_representatives`) say which neighbours need a ``find``: an
    interior pixel needs one, not eight. ``state`` holds ``[live components, components made,
    4 E]``; ``gain`` is the change of ``4 E`` per pattern (zeros where it is not wanted)."""
    roots = np.empty(4, np.int64)
    count, made, euler4 = state[0], state[1], state[2]
    for k in range(lo, hi):
        p = order[k]
        code = 0
        for bit in range(8):
            code |= np.int64(parent[p + offsets[bit]] != -1) << bit
        euler4 += gain[code]
        found = 0
        for i in range(nreps[code]):
            r = _find(parent, p + offsets[reps[code, i]])
            seen = False
            for m in range(found):
                if roots[m] == r:
                    seen = True
            if not seen:
                roots[found] = r
                found += 1
        px, py = xs[k], ys[k]
        if found == 0:
            c = made
            made += 1
            parent[p] = -2 - c
            comp[c, _WEIGHT] = 1
            comp[c, _X0], comp[c, _X1], comp[c, _Y0], comp[c, _Y1] = px, px, py, py
            comp[c, _FIRST] = p
            comp[c, _SLOT] = count
            live[count] = c
            count += 1
            continue
        big = roots[0]
        b = -2 - parent[big]
        for i in range(1, found):
            c = -2 - parent[roots[i]]
            if comp[c, _WEIGHT] > comp[b, _WEIGHT]:
                big, b = roots[i], c
        parent[p] = big
        comp[b, _WEIGHT] += 1
        comp[b, _X0], comp[b, _X1] = min(comp[b, _X0], px), max(comp[b, _X1], px)
        comp[b, _Y0], comp[b, _Y1] = min(comp[b, _Y0], py), max(comp[b, _Y1], py)
        comp[b, _FIRST] = min(comp[b, _FIRST], p)
        for i in range(found):
            r = roots[i]
            if r == big:
                continue
            c = -2 - parent[r]
            parent[r] = big
            comp[b, _WEIGHT] += comp[c, _WEIGHT]
            comp[b, _X0], comp[b, _X1] = (
                min(comp[b, _X0], comp[c, _X0]),
                max(comp[b, _X1], comp[c, _X1]),
            )
            comp[b, _Y0], comp[b, _Y1] = (
                min(comp[b, _Y0], comp[c, _Y0]),
                max(comp[b, _Y1], comp[c, _Y1]),
            )
            comp[b, _FIRST] = min(comp[b, _FIRST], comp[c, _FIRST])
            last = live[count - 1]
            live[comp[c, _SLOT]] = last
            comp[last, _SLOT] = comp[c, _SLOT]
            count -= 1
    state[0], state[1], state[2] = count, made, euler4


def superlevel_components(
    image: np.ndarray, values: np.ndarray, gt: np.ndarray, lowest: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per distinct value ``values[j]`` (ascending, ``j >= lowest``: lower levels are not
    computed) of the map ``image >= values[j]``; see :func:`_superlevel_components`."""
    return _superlevel_components(
        image, values, gt, EULER_GAIN, REPS_8, NREPS_8, REPS_4, NREPS_4, lowest
    )


@njit(cache=True)
def _superlevel_components(image, values, gt, euler_gain, reps8, nreps8, reps4, nreps4, lowest):
    """Per distinct value ``values[j]`` (ascending, ``j >= lowest``: lower levels are not
    computed) of the map ``image >= values[j]``:

    Returns:
        ``(components, component_iou, holes, hole_iou, largest_iou)``: the number of
        8-connected components, the best IoU with ``gt`` of their outer-contour boxes
        ``(x, y, x + w, y + h)`` clipped to ``(W - 1, H - 1)`` as the reference builds them,
        the number of holes, the best IoU of the holes' contour boxes (-1: none), and the IoU
        of the box of the contour of largest area (v1).
    """
    h, w = image.shape
    stride = w + 2  # one pixel of padding all round: neighbours need no bounds checks
    size = (h + 2) * stride
    levels = values.shape[0]
    order, xs, ys, starts = _value_order(image, values, stride)
    offsets = np.array(
        [-stride - 1, -stride, -stride + 1, -1, 1, stride - 1, stride, stride + 1], np.int64
    )
    parent = np.full(size, -1, np.int32)
    comp = np.empty((h * w, _FIELDS), np.int32)  # rows are touched only as components are made
    live = np.empty(h * w, np.int64)
    state = np.zeros(3, np.int64)
    components = np.zeros(levels, np.int64)
    component_iou = np.full(levels, -1.0)
    holes = np.zeros(levels, np.int64)
    largest_iou = np.full(levels, -1.0)
    hole_bound = np.full(levels, -1.0)  # no hole box can beat it: see _best_cover
    for j in range(levels - 1, lowest - 1, -1):
        _add_pixels(
            order, xs, ys, starts[j], starts[j + 1], parent, offsets, reps8, nreps8, comp, live,
            state, euler_gain,
        )  # fmt: skip
        count = state[0]
        components[j] = count
        holes[j] = count - state[2] // 4
        bound = np.empty(count, np.int64)  # 2 x area <= 2 x (box of pixel centres)
        for i in range(count):
            c = live[i]
            bx0, by0 = comp[c, _X0], comp[c, _Y0]
            bx1, by1 = min(comp[c, _X1] + 1, w - 1), min(comp[c, _Y1] + 1, h - 1)
            iou = best_iou(bx0, by0, bx1, by1, gt)
            if iou > component_iou[j]:
                component_iou[j] = iou
            if holes[j] > 0:
                hole_bound[j] = max(hole_bound[j], _best_cover(bx0, by0, bx1, by1, gt))
            if count == 1:
                largest_iou[j] = iou
            bound[i] = 2 * (comp[c, _X1] - comp[c, _X0]) * (comp[c, _Y1] - comp[c, _Y0])
        if count == 1:
            continue
        # v1 takes the contour of largest area; findContours lists outer contours in reverse
        # raster order of their first pixel, and max() keeps the first of equal areas. The
        # components are traced from the largest bound down, until no bound can win.
        best_area, best_first = -1, 0
        for i in np.argsort(-bound, kind="mergesort"):
            if bound[i] < best_area:
                break
            c = live[i]
            start = comp[c, _FIRST]
            area = _outer_area2(parent, start, stride)
            if area > best_area or (area == best_area and start > best_first):
                best_area, best_first = area, start
                largest_iou[j] = best_iou(
                    comp[c, _X0],
                    comp[c, _Y0],
                    min(comp[c, _X1] + 1, w - 1),
                    min(comp[c, _Y1] + 1, h - 1),
                    gt,
                )
    # the background pass is needed only where a hole's box might beat the components'
    needed = holes > 0
    needed[:lowest] = False
    for j in range(levels):
        if hole_bound[j] + 1e-9 < component_iou[j]:
            needed[j] = False
    hole_iou = _hole_ious(
        image, gt, order, xs, ys, starts, offsets, reps4, nreps4, needed, parent, comp, live
    )
    return components, component_iou, holes, hole_iou, largest_iou


@njit(cache=True)
def _best_cover(x0, y0, x1, y1, gt):
    """``max_g |C & g| / |g|`` for the box ``C``: no box inside ``C`` (a hole's contour box
    lies inside its component's) has an IoU with any ground-truth box above it, since
    ``IoU(B, g) = |B & g| / |B | g| <= |C & g| / |g|``."""
    best = 0.0
    for g in range(gt.shape[0]):
        ix = max(0.0, min(float(x1), gt[g, 2]) - max(float(x0), gt[g, 0]) + 1.0)
        iy = max(0.0, min(float(y1), gt[g, 3]) - max(float(y0), gt[g, 1]) + 1.0)
        area_g = (gt[g, 2] - gt[g, 0] + 1.0) * (gt[g, 3] - gt[g, 1] + 1.0)
        best = max(best, ix * iy / area_g)
    return best


@njit(cache=True)
def _outer_area2(parent, start, stride):
    """Twice the area (shoelace, pixel centres) of the outer border that
    ``cv2.findContours`` traces from ``start``, the component's first pixel in raster order,
    following its rule step by step (8-connectivity, the search turning from the west)."""
    # the 8 directions counter-clockwise from the east, as index steps and (dx, dy)
    directions = (1, -stride + 1, -stride, -stride - 1, -1, stride - 1, stride, stride + 1)
    step_x = (1, 1, 0, -1, -1, -1, 0, 1)
    step_y = (0, -1, -1, -1, 0, 1, 1, 1)
    s = 4
    while True:
        s = (s - 1) & 7
        i1 = start + directions[s]
        if parent[i1] != -1 or s == 4:
            break
    if parent[i1] == -1:
        return 0  # a single pixel
    i3 = start
    x3, y3 = 0, 0  # coordinates relative to the start: the area does not depend on them
    area2 = 0
    while True:
        while True:
            s += 1
            i4 = i3 + directions[s & 7]
            if parent[i4] != -1:
                break
        s &= 7
        x4, y4 = x3 + step_x[s], y3 + step_y[s]
        area2 += x3 * y4 - x4 * y3
        if i4 == start and i3 == i1:
            break
        i3, x3, y3 = i4, x4, y4
        s = (s + 4) & 7
    return abs(area2)


@njit(cache=True)
def _hole_ious(
    image, gt, order, xs, ys, starts, offsets, reps4, nreps4, needed, parent, comp, live
):
    """Best IoU of the hole contours' boxes per ``needed`` level (-1 elsewhere): the background
    (4-connectivity) grows as the level rises; a background component that does not reach the
    image border is a hole, whose contour runs on the foreground pixels around it, so its box
    is the hole's bounding box grown by one pixel. Reuses the foreground pass's buffers."""
    h, w = image.shape
    levels = needed.shape[0]
    hole_iou = np.full(levels, -1.0)
    last_level = -1
    for j in range(levels):
        if needed[j]:
            last_level = j
    if last_level < 0:
        return hole_iou
    parent[:] = -1
    state = np.zeros(3, np.int64)
    no_gain = np.zeros(256, np.int64)  # 4-connectivity: no Euler number here
    for j in range(1, last_level + 1):
        _add_pixels(  # the pixels below values[j] join
            order, xs, ys, starts[j - 1], starts[j], parent, offsets, reps4, nreps4, comp, live,
            state, no_gain,
        )  # fmt: skip
        if not needed[j]:
            continue
        for i in range(state[0]):
            c = live[i]
            cx0, cy0, cx1, cy1 = comp[c, _X0], comp[c, _Y0], comp[c, _X1], comp[c, _Y1]
            if cx0 == 0 or cy0 == 0 or cx1 == w - 1 or cy1 == h - 1:
                continue  # reaches the border: outside, not a hole
            # findContours' box (x, y, x + w, y + h) of the contour one pixel outside the hole
            iou = best_iou(cx0 - 1, cy0 - 1, min(cx1 + 2, w - 1), min(cy1 + 2, h - 1), gt)
            if iou > hole_iou[j]:
                hole_iou[j] = iou
    return hole_iou
