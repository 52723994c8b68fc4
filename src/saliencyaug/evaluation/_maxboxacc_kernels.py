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

The per-pixel work reads one ``int32`` per neighbour (``parent``, -1 outside the map); the
other fields live with the component roots only.
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
    """Padded pixel indices sorted by value index (counting sort), and the bucket starts."""
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
    fill = starts[:-1].copy()
    for y in range(h):
        for x in range(w):
            j = index_of[image[y, x]]
            order[fill[j]] = (y + 1) * stride + (x + 1)
            fill[j] += 1
    return order, starts


@njit(cache=True)
def _add_pixels(
    order,
    lo,
    hi,
    parent,
    offsets,
    weight,
    x0,
    y0,
    x1,
    y1,
    first,
    live,
    slot,
    count,
    stride,
    euler_gain,
):
    """Put pixels ``order[lo:hi]`` in, each joined to the largest neighbouring component, which
    absorbs the others (a new component when it has no neighbour). One call per level: numba
    passes arrays to a call with reference counting, too slow per pixel. Returns the number of
    live components and the change of ``4 E`` (``euler_gain`` is read for 8 neighbours)."""
    roots = np.empty(8, np.int32)
    euler4 = 0
    for k in range(lo, hi):
        p = order[k]
        code = 0
        found = 0
        for bit in range(offsets.shape[0]):
            q = p + offsets[bit]
            if parent[q] < 0:
                continue
            code |= 1 << bit
            r = q  # find, with path compression
            while parent[r] != r:
                r = parent[r]
            while parent[q] != r:
                nxt = parent[q]
                parent[q] = r
                q = nxt
            seen = False
            for i in range(found):
                if roots[i] == r:
                    seen = True
            if not seen:
                roots[found] = r
                found += 1
        if euler_gain.shape[0] == 256:
            euler4 += euler_gain[code]
        px, py = p % stride - 1, p // stride - 1
        if found == 0:
            parent[p] = p
            weight[p] = 1
            x0[p], x1[p], y0[p], y1[p] = px, px, py, py
            first[p] = p
            live[count] = p
            slot[p] = count
            count += 1
            continue
        big = roots[0]
        for i in range(1, found):
            if weight[roots[i]] > weight[big]:
                big = roots[i]
        parent[p] = big
        weight[big] += 1
        x0[big], x1[big] = min(x0[big], px), max(x1[big], px)
        y0[big], y1[big] = min(y0[big], py), max(y1[big], py)
        first[big] = min(first[big], p)
        for i in range(found):
            r = roots[i]
            if r == big:
                continue
            parent[r] = big
            weight[big] += weight[r]
            x0[big], x1[big] = min(x0[big], x0[r]), max(x1[big], x1[r])
            y0[big], y1[big] = min(y0[big], y0[r]), max(y1[big], y1[r])
            first[big] = min(first[big], first[r])
            last = live[count - 1]
            live[slot[r]] = last
            slot[last] = slot[r]
            count -= 1
    return count, euler4


@njit(cache=True)
def superlevel_components(image, values, gt, euler_gain, lowest=0):
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
    order, starts = _value_order(image, values, stride)
    offsets = np.array(
        [-stride - 1, -stride, -stride + 1, -1, 1, stride - 1, stride, stride + 1], np.int64
    )
    directions = np.array(
        [1, -stride + 1, -stride, -stride - 1, -1, stride - 1, stride, stride + 1], np.int64
    )
    parent = np.full(size, -1, np.int32)
    weight = np.zeros(size, np.int32)
    x0 = np.zeros(size, np.int32)
    y0 = np.zeros(size, np.int32)
    x1 = np.zeros(size, np.int32)
    y1 = np.zeros(size, np.int32)
    first = np.zeros(size, np.int32)
    slot = np.zeros(size, np.int32)
    live = np.empty(h * w, np.int32)
    components = np.zeros(levels, np.int64)
    component_iou = np.full(levels, -1.0)
    holes = np.zeros(levels, np.int64)
    largest_iou = np.full(levels, -1.0)
    hole_bound = np.full(levels, -1.0)  # no hole box can beat it: see _best_cover
    count = 0
    euler4 = 0  # 4 x the Euler number
    for j in range(levels - 1, lowest - 1, -1):
        count, gain = _add_pixels(
            order,
            starts[j],
            starts[j + 1],
            parent,
            offsets,
            weight,
            x0,
            y0,
            x1,
            y1,
            first,
            live,
            slot,
            count,
            stride,
            euler_gain,
        )
        euler4 += gain
        components[j] = count
        holes[j] = count - euler4 // 4
        bound = np.empty(count, np.int64)  # 2 x area <= 2 x (box of pixel centres)
        for i in range(count):
            r = live[i]
            iou = best_iou(x0[r], y0[r], min(x1[r] + 1, w - 1), min(y1[r] + 1, h - 1), gt)
            if iou > component_iou[j]:
                component_iou[j] = iou
            if holes[j] > 0:
                cover = _best_cover(x0[r], y0[r], min(x1[r] + 1, w - 1), min(y1[r] + 1, h - 1), gt)
                hole_bound[j] = max(hole_bound[j], cover)
            if count == 1:
                largest_iou[j] = iou
            bound[i] = 2 * (x1[r] - x0[r]) * (y1[r] - y0[r])
        if count == 1:
            continue
        # v1 takes the contour of largest area; findContours lists outer contours in reverse
        # raster order of their first pixel, and max() keeps the first of equal areas. The
        # components are traced from the largest bound down, until no bound can win.
        best_area, best_first = -1, 0
        for i in np.argsort(-bound, kind="mergesort"):
            if bound[i] < best_area:
                break
            r = live[i]
            area = _outer_area2(parent, first[r], directions, stride)
            if area > best_area or (area == best_area and first[r] > best_first):
                best_area, best_first = area, first[r]
                largest_iou[j] = best_iou(
                    x0[r], y0[r], min(x1[r] + 1, w - 1), min(y1[r] + 1, h - 1), gt
                )
    # the background pass is needed only where a hole's box might beat the components'
    needed = holes > 0
    needed[:lowest] = False
    for j in range(levels):
        if hole_bound[j] + 1e-9 < component_iou[j]:
            needed[j] = False
    hole_iou = _hole_ious(image, values, gt, order, starts, needed)
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
def _outer_area2(parent, start, directions, stride):
    """Twice the area (shoelace, pixel centres) of the outer border that
    ``cv2.findContours`` traces from ``start``, the component's first pixel in raster order,
    following its rule step by step (8-connectivity, the search turning from the west)."""
    s = 4
    while True:
        s = (s - 1) & 7
        i1 = start + directions[s]
        if parent[i1] >= 0 or s == 4:
            break
    if parent[i1] < 0:
        return 0  # a single pixel
    i3 = start
    area2 = 0
    while True:
        while True:
            s += 1
            i4 = i3 + directions[s & 7]
            if parent[i4] >= 0:
                break
        s &= 7
        area2 += (i3 % stride) * (i4 // stride) - (i4 % stride) * (i3 // stride)
        if i4 == start and i3 == i1:
            break
        i3 = i4
        s = (s + 4) & 7
    return abs(area2)


@njit(cache=True)
def _hole_ious(image, values, gt, order, starts, needed):
    """Best IoU of the hole contours' boxes per ``needed`` level (-1 elsewhere): the background
    (4-connectivity) grows as the level rises; a background component that does not reach the
    image border is a hole, whose contour runs on the foreground pixels around it, so its box
    is the hole's bounding box grown by one pixel."""
    h, w = image.shape
    stride = w + 2
    size = (h + 2) * stride
    levels = values.shape[0]
    hole_iou = np.full(levels, -1.0)
    last_level = -1
    for j in range(levels):
        if needed[j]:
            last_level = j
    if last_level < 0:
        return hole_iou
    offsets = np.array([-stride, -1, 1, stride], np.int64)
    parent = np.full(size, -1, np.int32)
    weight = np.zeros(size, np.int32)
    x0 = np.zeros(size, np.int32)
    y0 = np.zeros(size, np.int32)
    x1 = np.zeros(size, np.int32)
    y1 = np.zeros(size, np.int32)
    first = np.zeros(size, np.int32)
    slot = np.zeros(size, np.int32)
    live = np.empty(h * w, np.int32)
    no_gain = np.zeros(0, np.int64)  # 4-connectivity: no Euler number here
    count = 0
    for j in range(1, last_level + 1):
        count, _ = _add_pixels(  # the pixels below values[j] join
            order,
            starts[j - 1],
            starts[j],
            parent,
            offsets,
            weight,
            x0,
            y0,
            x1,
            y1,
            first,
            live,
            slot,
            count,
            stride,
            no_gain,
        )
        if not needed[j]:
            continue
        for i in range(count):
            r = live[i]
            if x0[r] == 0 or y0[r] == 0 or x1[r] == w - 1 or y1[r] == h - 1:
                continue  # reaches the border: outside, not a hole
            x, y = x0[r] - 1, y0[r] - 1
            iou = best_iou(
                x, y, min(x + x1[r] - x0[r] + 3, w - 1), min(y + y1[r] - y0[r] + 3, h - 1), gt
            )
            if iou > hole_iou[j]:
                hole_iou[j] = iou
    return hole_iou
