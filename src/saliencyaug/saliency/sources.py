"""Saliency from annotation boxes and from a user's torch module.

Both produce the same thing as every detector, a float32 ``(H, W)`` map in [0, 1], so that
ground-truth boxes (the CVSA paper's default, e.g. CUB's ``bounding_boxes.txt``) and learned
detectors (e.g. BASNet weights a user owns) plug into the same box search and transforms.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from saliencyaug import _checks
from saliencyaug.boxes.geometry import xyxy_array
from saliencyaug.image import to_rgb_uint8


def box_saliency(boxes: Any, canvas_size: tuple[int, int] | None = None) -> np.ndarray:
    """A map that is 1 inside the given boxes and 0 elsewhere.

    With the default ``excess`` objective, :func:`saliencyaug.boxes.best_box` of the map of a
    single box returns that box exactly, so annotation boxes flow through the same pipeline as
    detector maps.

    Args:
        boxes: a ``tv_tensors.BoundingBoxes`` (any format; its ``canvas_size`` is used), or
            XYXY boxes as a sequence of 4 numbers or an ``(N, 4)`` array/tensor.
        canvas_size: ``(H, W)`` of the map; required unless ``boxes`` is ``BoundingBoxes``.

    Returns:
        float32 ``(H, W)`` map.

    Raises:
        ValueError: no canvas size, a malformed box, or a box outside the canvas or empty.

    Examples:
        >>> box_saliency([1, 0, 3, 2], canvas_size=(3, 4))
        array([[0., 1., 1., 0.],
               [0., 1., 1., 0.],
               [0., 0., 0., 0.]], dtype=float32)
    """
    xyxy, (h, w) = xyxy_array(boxes, canvas_size)
    out = np.zeros((h, w), dtype=np.float32)
    for x0, y0, x1, y1 in xyxy:
        out[y0:y1, x0:x1] = 1.0
    return out


class ModuleSaliency:
    """Use any torch module that maps an image batch to a saliency map as a detector.

    The image is converted to a float ``(1, 3, H, W)`` tensor in [0, 1], optionally resized to
    ``input_size`` and normalised with ``mean``/``std``, and passed through ``module`` under
    ``torch.inference_mode``; the module's train/eval mode is left as the caller set it (call
    ``.eval()`` yourself). The output may be ``(1, 1, h, w)``, ``(1, h, w)`` or ``(h, w)``, or a
    tuple/list whose first item is (as BASNet-style networks return side outputs); it is passed
    through ``activation``, resized bilinearly to the input's size and min-max normalised.

    Args:
        module: the network.
        device: where to run it (default: the device of its first parameter, else CPU).
        input_size: ``(H, W)`` the network expects, or ``None`` to feed the image's size.
        mean: per-channel mean for normalisation (``None``: none).
        std: per-channel standard deviation for normalisation.
        activation: ``"sigmoid"`` for logits, ``None`` if the module returns probabilities.

    Examples:
        >>> import torch
        >>> det = ModuleSaliency(torch.nn.Conv2d(3, 1, 3, padding=1), activation="sigmoid")
        >>> det(torch.rand(3, 16, 20)).shape
        (16, 20)
    """

    def __init__(
        self,
        module: Any,
        *,
        device: Any = None,
        input_size: tuple[int, int] | None = None,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        activation: Literal["sigmoid"] | None = None,
    ) -> None:
        import torch

        if not isinstance(module, torch.nn.Module):
            raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
        if activation is not None:
            _checks.choice("activation", activation, ("sigmoid",))
        if (mean is None) != (std is None):
            raise ValueError("mean and std must be given together")
        for name, values in (("mean", mean), ("std", std)):
            if values is not None and (not isinstance(values, (list, tuple)) or len(values) != 3):
                raise ValueError(f"{name} must give 3 values (R, G, B), got {values!r}")
        if mean is not None and std is not None:
            mean = [_checks.real(f"mean[{i}]", mean[i]) for i in range(3)]
            std = [_checks.positive(f"std[{i}]", std[i]) for i in range(3)]
        if input_size is not None:
            input_size = _checks.size_pair("input_size", input_size)
        if device is None:
            param = next(module.parameters(), None)
            device = param.device if param is not None else torch.device("cpu")
        self.module = module
        self.device = torch.device(device)
        self.input_size = input_size
        self.mean = (
            None if mean is None else torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
        )
        self.std = None if std is None else torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
        self.activation = activation

    def __call__(self, image: Any) -> np.ndarray:
        """Saliency map of one image: float32 ``(H, W)`` in [0, 1]."""
        import torch
        import torch.nn.functional as F

        rgb = to_rgb_uint8(image)
        h, w = rgb.shape[:2]
        x = torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0).float().div_(255.0)
        if self.input_size is not None:
            x = F.interpolate(
                x, size=self.input_size, mode="bilinear", align_corners=False, antialias=True
            )
        if self.mean is not None and self.std is not None:
            x = (x - self.mean) / self.std
        with torch.inference_mode():
            out = self.module(x.to(self.device))
        if isinstance(out, (tuple, list)):
            out = out[0]
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"module returned {type(out).__name__}, expected a tensor")
        out = out.float()
        while out.ndim > 2 and out.shape[0] == 1:
            out = out[0]
        if out.ndim != 2:
            raise ValueError(
                f"module output must be (1, 1, h, w), (1, h, w) or (h, w), got {tuple(out.shape)}"
            )
        if self.activation == "sigmoid":
            out = torch.sigmoid(out)
        out = F.interpolate(out[None, None], size=(h, w), mode="bilinear", align_corners=False)[
            0, 0
        ]
        arr = out.cpu().numpy()
        if not np.isfinite(arr).all():
            raise ValueError("module returned NaN or inf")
        lo, hi = float(arr.min()), float(arr.max())
        arr = (arr - lo) / (hi - lo) if hi > lo else np.zeros_like(arr)
        return np.ascontiguousarray(arr, dtype=np.float32)
