"""Box caches and fine-grained dataset loaders."""

from __future__ import annotations

from saliencyaug.data.box_cache import BoxCache, BoxRecord, BuildReport, build_box_cache

__all__ = ["BoxCache", "BoxRecord", "BuildReport", "build_box_cache"]
