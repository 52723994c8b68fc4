"""``SaliencySwap``: the CVSA paper's view generation as a torchvision ``transforms.v2``
transform, and ``RandomResizedCropWithMask``, its fallback and the baseline's first step.

Use SaliencySwap as the first entry of an ordinary pipeline, in place of ``RandomResizedCrop``
(:func:`saliencyaug.transforms.moco_v2_view` builds the paper's whole pipeline).

Contract (as torchvision's transforms, e.g. ``RandomResizedCrop``):

* ``make_params`` draws every random number of a view once (:mod:`.sampling`) and returns a
  :class:`ViewParams`; ``transform`` calls deterministic kernels (:mod:`.functional`) with it,
  so :meth:`~_SalientView.replay` reproduces a view exactly from its parameters.
* The sample keeps its structure: the image leaf becomes the view (a ``tv_tensors.Image``), a
  ``tv_tensors.Mask`` leaf is filled with the view's saliency mask, a ``BoundingBoxes`` leaf
  becomes the box of that mask on the new canvas (in its own format), and every other leaf
  passes through. **Deliberate deviation:** a bare image (not inside a tuple, list or dict)
  comes back as ``(image, mask)``, so the mask is never lost.
* The salient box of the input comes from its ``BoundingBoxes`` (the largest box), else from
  a non-empty ``Mask`` (its bounding box), else from the detector. A ``Mask`` follows the
  package's one mask rule: bool, 0/1 or 0/255, non-zero is the object; other values (a soft
  saliency map, say) raise a ``ValueError``: threshold them, or give the map to the detector.
* Per-box entries of the sample (a ``"labels"`` key, found as ``SanitizeBoundingBoxes`` finds
  it) are cut to the box the view keeps (the largest input box), so they stay one per box.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import PIL.Image
import torch
from torch.utils._pytree import tree_flatten, tree_unflatten
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from saliencyaug import _checks
from saliencyaug.boxes.geometry import (
    Box,
    box_mask,
    boxes_to_list,
    largest_box,
    mask_box,
    scale_box,
    to_bounding_boxes,
)
from saliencyaug.boxes.search import BoxSearch
from saliencyaug.image import is_image_leaf, to_image_tensor
from saliencyaug.saliency import DEFAULT_DETECTOR, Detector, get_detector
from saliencyaug.transforms import functional as F
from saliencyaug.transforms.backgrounds import BackgroundPool
from saliencyaug.transforms.sampling import SwapMode, sample_swap_boxes


def _view_box_rows(given: tv_tensors.BoundingBoxes, made: tv_tensors.BoundingBoxes) -> list[int]:
    """Which input boxes the output boxes stand for: the view is made from the largest input
    box (:func:`largest_box`, first on ties), so its one box keeps that box's labels."""
    if len(made) == 0:
        return []
    best, area = None, 0
    for i in range(len(given)):
        row = boxes_to_list(tv_tensors.wrap(given[i : i + 1], like=given))
        if row and row[0].area > area:
            best, area = i, row[0].area
    return [] if best is None else [best]


def _cut_rows(value: Any, count: int, rows: list[int]) -> Any:
    if isinstance(value, (torch.Tensor, np.ndarray)) and value.ndim >= 1 and len(value) == count:
        return value[rows]
    if isinstance(value, list) and len(value) == count:
        return [value[i] for i in rows]
    return value


def _keep_labels(sample: Any, count: int, rows: list[int]) -> Any:
    """Per-box entries of the sample (a ``"labels"`` key of any dict in it, any case, as
    torchvision's ``SanitizeBoundingBoxes`` finds them) cut to ``rows``, so they stay one per
    box when the input's ``count`` boxes become the view's box."""
    if isinstance(sample, dict):
        return {
            key: _cut_rows(value, count, rows)
            if isinstance(key, str) and key.lower() == "labels"
            else _keep_labels(value, count, rows)
            for key, value in sample.items()
        }
    if type(sample) in (tuple, list):
        return type(sample)(_keep_labels(x, count, rows) for x in sample)
    return sample


@dataclass(frozen=True)
class ViewParams:
    """Everything one view depends on; :meth:`SaliencySwap.replay` with it is deterministic.

    Attributes:
        size: output ``(H, W)``.
        image_size: ``(H, W)`` of the input image.
        source_box: the input's salient box (None: unknown).
        swapped: True for a swap; False for a resized crop of the input (the fallback of
            SaliencySwap, or RandomResizedCropWithMask).
        crop: the region of the input that is shown.
        target: where it lands on the output (the whole canvas when not swapped).
        background: the background, already at the output size (swaps only).
        background_index: its index in the pool (swaps only).
    """

    size: tuple[int, int]
    image_size: tuple[int, int]
    source_box: Box | None
    swapped: bool
    crop: Box
    target: Box
    background: torch.Tensor | None = None
    background_index: int | None = None

    def check(self, image_size: tuple[int, int]) -> None:
        """Refuse parameters that cannot be replayed on an image of ``image_size``: drawn for
        another size, or with boxes edited outside their canvas or empty.

        Raises:
            ValueError: naming ``params`` and what does not fit.
        """
        if tuple(self.image_size) != tuple(image_size):
            raise ValueError(
                f"params were drawn for a {self.image_size[0]}x{self.image_size[1]} image, "
                f"the sample's image is {image_size[0]}x{image_size[1]}: draw new ones with "
                "sample_params"
            )
        for name, box, (h, w) in (
            ("crop", self.crop, self.image_size),
            ("target", self.target, self.size),
        ):
            if not isinstance(box, Box) or not (
                0 <= box.x0 < box.x1 <= w and 0 <= box.y0 < box.y1 <= h
            ):
                raise ValueError(
                    f"params.{name} must be a non-empty Box inside its {h}x{w} canvas, got {box}"
                )
        if self.swapped and (
            not isinstance(self.background, torch.Tensor)
            or tuple(self.background.shape[-2:]) != tuple(self.size)
        ):
            raise ValueError(
                f"params.background must be an image tensor of the output size {self.size}"
            )

    def mask(self, device: torch.device | None = None) -> torch.Tensor:
        """The view's uint8 ``(1, H, W)`` saliency mask."""
        if self.swapped:
            return box_mask(self.target, self.size, device)
        return F.resized_crop_box_mask(self.source_box, self.image_size, self.crop, self.size).to(
            device
        )


def _match_dtype(image: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return image if image.dtype == dtype else TF.to_dtype(image, dtype, scale=True)


class _SalientView(v2.Transform):
    """Base of the transforms that turn an image and its salient box into a view and the
    view's mask (see the module docstring for the contract)."""

    _transformed_types = (
        tv_tensors.Image,
        tv_tensors.BoundingBoxes,
        tv_tensors.Mask,
        PIL.Image.Image,
        torch.Tensor,
        np.ndarray,
    )

    def __init__(self, size: int | tuple[int, int], antialias: bool) -> None:
        super().__init__()
        self.size = _checks.size_pair("size", size)
        self.antialias = _checks.boolean("antialias", antialias)

    # -- drawing (subclasses) ------------------------------------------------------------

    def _draw(self, image: torch.Tensor, box: Box | None) -> ViewParams:
        raise NotImplementedError

    def _default_box(self, image: torch.Tensor) -> Box | None:
        return None

    # -- the torchvision v2 contract -----------------------------------------------------

    def forward(self, *inputs: Any) -> Any:
        """Draw a view's parameters and apply them (see :meth:`replay`)."""
        return self._run(inputs, None)

    def replay(self, params: ViewParams, *inputs: Any) -> Any:
        """Apply known parameters (e.g. from :meth:`sample_params`) to a sample; the output is
        identical to the call that drew them."""
        if not isinstance(params, ViewParams):
            raise TypeError(f"params must be ViewParams, got {type(params).__name__}")
        return self._run(inputs, params)

    def sample_params(self, *inputs: Any) -> ViewParams:
        """Draw the parameters of one view of a sample, without applying them."""
        flat, _ = tree_flatten(inputs if len(inputs) > 1 else inputs[0])
        self.check_inputs(flat)
        needs = self._needs_transform_list(flat)
        return self.make_params([x for x, n in zip(flat, needs, strict=True) if n])["view"]

    def _run(self, inputs: tuple[Any, ...], params: ViewParams | None) -> Any:
        if not inputs:
            raise TypeError("expected a sample (an image, or a tuple/list/dict holding one)")
        sample = inputs if len(inputs) > 1 else inputs[0]
        flat, spec = tree_flatten(sample)
        self.check_inputs(flat)
        needs = self._needs_transform_list(flat)
        chosen = [x for x, n in zip(flat, needs, strict=True) if n]
        if params is None:
            view = self.make_params(chosen)["view"]
        else:
            image = to_image_tensor(self._find_image(chosen), "image")
            params.check((int(image.shape[-2]), int(image.shape[-1])))
            view = params
        out = [
            self.transform(x, {"view": view}) if n else x for x, n in zip(flat, needs, strict=True)
        ]
        result = tree_unflatten(out, spec)
        if spec.is_leaf():  # a bare image: return the mask beside it
            return result, tv_tensors.Mask(view.mask(result.device))
        given = [x for x in flat if isinstance(x, tv_tensors.BoundingBoxes)]
        made = [x for x in out if isinstance(x, tv_tensors.BoundingBoxes)]
        if given and made:
            return _keep_labels(result, len(given[0]), _view_box_rows(given[0], made[0]))
        return result

    def check_inputs(self, flat_inputs: list[Any]) -> None:
        for inpt in flat_inputs:
            if isinstance(inpt, (tv_tensors.Video, tv_tensors.KeyPoints)):
                raise TypeError(
                    f"{type(self).__name__} makes views of still images and cannot transform a "
                    f"{type(inpt).__name__}"
                )
        for kind in (tv_tensors.Mask, tv_tensors.BoundingBoxes):
            if sum(isinstance(x, kind) for x in flat_inputs) > 1:
                raise ValueError(
                    f"{type(self).__name__} takes at most one {kind.__name__} per sample"
                )

    def _needs_transform_list(self, flat_inputs: list[Any]) -> list[bool]:
        needs = super()._needs_transform_list(flat_inputs)
        # numpy arrays: only the first, and only when there is no other image
        has_image = any(
            n and not isinstance(x, (np.ndarray, tv_tensors.BoundingBoxes, tv_tensors.Mask))
            for x, n in zip(flat_inputs, needs, strict=True)
        )
        seen_array = has_image
        for i, x in enumerate(flat_inputs):
            if isinstance(x, np.ndarray):
                needs[i] = not seen_array and x.ndim in (2, 3)
                seen_array = seen_array or needs[i]
        return needs

    def _find_image(self, flat_inputs: list[Any]) -> Any:
        images = [x for x in flat_inputs if is_image_leaf(x)]
        if len(images) != 1:
            raise ValueError(
                f"{type(self).__name__} needs exactly one image per sample, found {len(images)}"
            )
        return images[0]

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        image = to_image_tensor(self._find_image(flat_inputs), "image")
        size = (int(image.shape[-2]), int(image.shape[-1]))
        box = None
        for x in flat_inputs:
            if isinstance(x, (tv_tensors.BoundingBoxes, tv_tensors.Mask)):
                other = tuple(
                    x.canvas_size if isinstance(x, tv_tensors.BoundingBoxes) else x.shape[-2:]
                )
                if other != size:
                    raise ValueError(
                        f"the sample's {type(x).__name__} belong to a {other[0]}x{other[1]} "
                        f"canvas but its image is {size[0]}x{size[1]}"
                    )
        for x in flat_inputs:
            if isinstance(x, tv_tensors.BoundingBoxes):
                box = box or largest_box(boxes_to_list(x))
        for x in flat_inputs:
            if isinstance(x, tv_tensors.Mask) and box is None:
                box = mask_box(
                    _checks.binary_mask("the sample's Mask", x.as_subclass(torch.Tensor))
                )
        if box is None:
            box = self._default_box(image)
        return {"view": self._draw(image, box)}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        view: ViewParams = params["view"]
        if isinstance(inpt, tv_tensors.Mask):
            return tv_tensors.Mask(view.mask(inpt.device))
        if isinstance(inpt, tv_tensors.BoundingBoxes):
            return to_bounding_boxes(mask_box(view.mask()), view.size, inpt.format)
        image = to_image_tensor(inpt, "image")
        if view.swapped:
            assert view.background is not None
            background = _match_dtype(view.background.to(image.device), image.dtype)
            out = F.paste(background, image, view.crop, view.target, antialias=self.antialias)
        else:
            out = F.resized_crop(image, view.crop, view.size, antialias=self.antialias)
        return tv_tensors.Image(out)

    def _resized_crop_params(
        self,
        image: torch.Tensor,
        box: Box | None,
        scale: tuple[float, float],
        ratio: tuple[float, float],
    ) -> ViewParams:
        top, left, h, w = v2.RandomResizedCrop.get_params(image, list(scale), list(ratio))
        size = self.size
        return ViewParams(
            size,
            (int(image.shape[-2]), int(image.shape[-1])),
            box,
            False,
            Box(left, top, left + w, top + h),
            Box(0, 0, size[1], size[0]),
        )


class RandomResizedCropWithMask(_SalientView):
    """``RandomResizedCrop`` whose mask is the part of the salient box the crop shows.

    The baseline's first step (MoCo v2 / BYOL with RandomResizedCrop) with the same output
    structure as :class:`SaliencySwap`, so one training loop serves both; it is also
    SaliencySwap's fallback. The salient box comes from the sample's ``BoundingBoxes`` or
    ``Mask`` (else the whole image).

    Args:
        size: output ``(H, W)`` (an int for a square).
        scale: area range of the crop (fraction of the image), as torchvision's.
        ratio: aspect-ratio range ``w / h``.
        antialias: antialiased resizing.

    Examples:
        >>> image, mask = RandomResizedCropWithMask(16)(torch.zeros(3, 40, 40, dtype=torch.uint8))
        >>> tuple(image.shape), bool(mask.all())
        ((3, 16, 16), True)
    """

    def __init__(
        self,
        size: int | tuple[int, int],
        scale: tuple[float, float] = (0.08, 1.0),
        ratio: tuple[float, float] = (3 / 4, 4 / 3),
        antialias: bool = True,
    ) -> None:
        super().__init__(size, antialias)
        self.scale = _checks.range_pair("scale", scale, 0.0, 1.0)
        self.ratio = _checks.range_pair("ratio", ratio, 0.0, float("inf"))

    def _default_box(self, image: torch.Tensor) -> Box | None:
        return Box(0, 0, int(image.shape[-1]), int(image.shape[-2]))

    def _draw(self, image: torch.Tensor, box: Box | None) -> ViewParams:
        return self._resized_crop_params(image, box, self.scale, self.ratio)


class SaliencySwap(_SalientView):
    """Crop inside the salient box of an image and swap it onto a background (CVSA, 2.1).

    Args:
        backgrounds: the background pool: a dataset, an image folder, a
            :class:`saliencyaug.data.BoxCache` or a :class:`BackgroundPool`.
        size: output ``(H, W)`` (an int for a square).
        mode: ``"replace"`` (mode I: the patch covers the background's own salient box; pool =
            the same dataset) or ``"paste"`` (mode II: pasted at a random place of a scene image).
        scale: crop area as a fraction of the foreground box, drawn from U(scale); the paper's
            lambda = 0.5 gives the default ``(0.5, 1.0)``.
        ratio: crop aspect-ratio range ``w / h``, log-uniform.
        paste_scale: ``paste`` mode: pasted area as a fraction of the output, U(paste_scale).
        p: probability of a swap; otherwise a RandomResizedCrop of the image whose mask is its
            box's part inside the crop (same output structure).
        fallback_scale: the RandomResizedCrop scale range of that fallback.
        detector: saliency source when a sample carries no box: a registered name or a
            callable ``image -> map``; also used for backgrounds without boxes. Default
            ``"geodesic"`` (best boxes in ``saliencyaug bench box-quality``, no OpenCV contrib
            needed, about 1.3 ms per 500x375 image at ``detect_size``, resize included);
            ``"spectral_residual"`` costs about 0.5 ms.
        box_search: the box objective applied to detector maps (default ``BoxSearch()``).
        antialias: antialiased resizing.
        detect_size: the longer side at which the detector runs on a sample without a box
            (the box is scaled back to the image); default 160, which keeps the default
            detector's box quality (mean IoU with the exact box 0.725 against 0.724 at full
            resolution on 500 384-px composites) at a fraction of the time. ``None``: the
            image as it is.
            Objectives with sizes in pixels (``fixed``, ``mean`` with ``min_size``) always
            run at full resolution.

    Raises:
        ValueError / TypeError: out-of-range or mistyped arguments, an empty pool.

    Examples:
        >>> bg = [torch.zeros(3, 40, 60, dtype=torch.uint8)]
        >>> fg = torch.full((3, 50, 50), 200, dtype=torch.uint8)
        >>> swap = SaliencySwap(bg, size=32, mode="paste")
        >>> image, mask = swap(fg)
        >>> tuple(image.shape), tuple(mask.shape), bool(mask.any())
        ((3, 32, 32), (1, 32, 32), True)
        >>> params = swap.sample_params(fg)                  # draw once ...
        >>> a, b = swap.replay(params, fg), swap.replay(params, fg)   # ... replay exactly
        >>> bool(torch.equal(a[0], b[0]))
        True
    """

    def __init__(
        self,
        backgrounds: Any,
        size: int | tuple[int, int] = 224,
        *,
        mode: SwapMode = "replace",
        scale: tuple[float, float] = (0.5, 1.0),
        ratio: tuple[float, float] = (3 / 4, 4 / 3),
        paste_scale: tuple[float, float] = (0.3, 1.0),
        p: float = 1.0,
        fallback_scale: tuple[float, float] = (0.08, 1.0),
        detector: str | Detector = DEFAULT_DETECTOR,
        box_search: BoxSearch | None = None,
        antialias: bool = True,
        detect_size: int | None = 160,
    ) -> None:
        super().__init__(size, antialias)
        self.mode: SwapMode = _checks.choice("mode", mode, ("replace", "paste"))
        try:
            self.pool = (
                backgrounds
                if isinstance(backgrounds, BackgroundPool)
                else BackgroundPool(backgrounds)
            )
        except (TypeError, ValueError) as err:
            raise type(err)(f"backgrounds: {err}") from err
        self.scale = _checks.range_pair("scale", scale, 0.0, 1.0)
        self.paste_scale = _checks.range_pair("paste_scale", paste_scale, 0.0, 1.0)
        self.fallback_scale = _checks.range_pair("fallback_scale", fallback_scale, 0.0, 1.0)
        self.ratio = _checks.range_pair("ratio", ratio, 0.0, float("inf"))
        self.p = _checks.probability("p", p)
        get_detector(detector)  # validate now; resolved again at call time (picklable)
        self.detector = detector
        if box_search is not None and not isinstance(box_search, BoxSearch):
            raise TypeError(f"box_search must be a BoxSearch, got {type(box_search).__name__}")
        self.box_search = box_search or BoxSearch()
        self.detect_size = (
            None if detect_size is None else _checks.integer("detect_size", detect_size, minimum=8)
        )
        # detected boxes of pool backgrounds (replace mode), at the output size: computed
        # once per background and process (deterministic, so equal to a fresh detection)
        self.background_boxes: dict[int, Box] = {}

    def _detect_box(self, image: torch.Tensor) -> Box:
        """The detector's box of ``image``, found at ``detect_size`` and scaled back."""
        detect: Callable[[Any], np.ndarray] = get_detector(self.detector)
        h, w = int(image.shape[-2]), int(image.shape[-1])
        spec = self.box_search.to_dict()
        in_pixels = spec["objective"] == "fixed" or "min_size" in spec
        if self.detect_size is None or in_pixels or max(h, w) <= self.detect_size:
            return self.box_search(detect(image))
        f = self.detect_size / max(h, w)
        small = (max(1, round(h * f)), max(1, round(w * f)))
        working = F.resize(image, small, antialias=True)
        return scale_box(self.box_search(detect(working)), small, (h, w))

    def background_box(self, index: int) -> Box:
        """The salient box of pool background ``index`` on the output canvas (replace mode):
        its own boxes when the pool has them (the largest), else detected once and kept in
        :attr:`background_boxes`."""
        if index in self.background_boxes:
            return self.background_boxes[index]
        bg_image, bg_boxes = self.pool[index]
        return self._background_box(index, to_image_tensor(bg_image, "background"), bg_boxes)

    def _background_box(
        self, index: int, background: torch.Tensor, bg_boxes: list[Box] | None
    ) -> Box:
        if index in self.background_boxes:
            return self.background_boxes[index]
        known = largest_box(bg_boxes) if bg_boxes else None
        if known is not None:
            bg_size = (int(background.shape[-2]), int(background.shape[-1]))
            return scale_box(known, bg_size, self.size)
        box = self._detect_box(F.resize(background, self.size, antialias=self.antialias))
        self.background_boxes[index] = box
        return box

    def prepare_backgrounds(self, progress: bool = True) -> int:
        """Detect the box of every pool background that has none, now (with a progress bar),
        instead of on first use: call it before the DataLoader starts its workers, which
        then inherit the boxes. Returns the number detected."""
        from tqdm.auto import tqdm

        if self.mode != "replace":
            return 0
        before = len(self.background_boxes)
        for index in tqdm(range(len(self.pool)), disable=not progress, desc="background boxes"):
            self.background_box(index)
        return len(self.background_boxes) - before

    def _default_box(self, image: torch.Tensor) -> Box | None:
        return self._detect_box(image)

    def _draw(self, image: torch.Tensor, box: Box | None) -> ViewParams:
        assert box is not None
        if float(torch.rand(())) >= self.p:
            return self._resized_crop_params(image, box, self.fallback_scale, self.ratio)
        index = int(torch.randint(len(self.pool), ()))
        bg_image, bg_boxes = self.pool[index]
        own = to_image_tensor(bg_image, "background")
        bg_box = self._background_box(index, own, bg_boxes) if self.mode == "replace" else None
        background = F.resize(_match_dtype(own, image.dtype), self.size, antialias=self.antialias)
        crop, target = sample_swap_boxes(
            torch.tensor([list(box)]),
            None if bg_box is None else torch.tensor([list(bg_box)]),
            self.size,
            self.mode,
            self.scale,
            self.ratio,
            self.paste_scale,
        )
        return ViewParams(
            self.size,
            (int(image.shape[-2]), int(image.shape[-1])),
            box,
            True,
            Box(*(int(v) for v in crop[0])),
            Box(*(int(v) for v in target[0])),
            background,
            index,
        )


__all__ = ["RandomResizedCropWithMask", "SaliencySwap", "ViewParams"]
