"""Image retrieval: rank-k accuracy and mean average precision (docs/method.md, section 6).

Every image is a query against all the others (itself left out); similarity is cosine;
items with equal similarity keep their dataset order (stable sort). rank-k = fraction of
queries with an item of their label among the top k; AP = non-interpolated average precision
over all same-label gallery items (``mean over positives of precision at their rank``);
mAP = mean AP over the queries that have at least one positive. Queries without a positive are
left out of every metric and counted. Queries are processed in blocks, so the full N x N
similarity matrix never sits in memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from saliencyaug import _checks
from saliencyaug.evaluation.inputs import check_features


@dataclass
class RetrievalResult:
    """``rank[k]`` (fraction in [0, 1]), ``mean_ap``, and the query counts."""

    rank: dict[int, float] = field(default_factory=dict)
    mean_ap: float = 0.0
    num_queries: int = 0
    num_without_positive: int = 0

    def as_dict(self) -> dict[str, float | int]:
        """Flat dict, e.g. ``{"rank1": ..., "rank5": ..., "mAP": ..., ...}``."""
        out: dict[str, float | int] = {f"rank{k}": v for k, v in self.rank.items()}
        out.update(
            mAP=self.mean_ap,
            num_queries=self.num_queries,
            num_without_positive=self.num_without_positive,
        )
        return out


def retrieval_metrics(
    features: torch.Tensor, labels: torch.Tensor, ks: Sequence[int] = (1, 5), block_size: int = 1024
) -> RetrievalResult:
    """Rank-k and mAP with each query left out of its gallery.

    Args:
        features: ``(N, n)`` test features (any device).
        labels: ``(N,)`` integer labels.
        ks: the k of rank-k.
        block_size: queries per block (memory ~ block_size x N).

    Returns:
        :class:`RetrievalResult`.

    Examples:
        >>> f = torch.tensor([[1.0, 0], [0.9, 0.1], [0, 1.0], [0.1, 0.9]])
        >>> r = retrieval_metrics(f, torch.tensor([0, 0, 1, 1]), ks=(1,))
        >>> r.rank[1], r.mean_ap
        (1.0, 1.0)
    """
    check_features(features, labels)
    if not ks:
        raise ValueError("ks must name at least one k")
    ks = [_checks.integer(f"ks[{i}]", k, minimum=1) for i, k in enumerate(ks)]
    n = features.shape[0]
    feats = F.normalize(features.double(), dim=1)
    labels = labels.to(feats.device)
    hits = {k: 0 for k in ks}
    ap_sum = 0.0
    counted = 0
    idx = torch.arange(n, device=feats.device)
    for start in range(0, n, block_size):
        q = slice(start, min(n, start + block_size))
        sims = feats[q] @ feats.t()
        rows = idx[q]
        sims[torch.arange(len(rows)), rows] = float("-inf")  # a query is not in its own gallery
        order = torch.sort(sims, dim=1, descending=True, stable=True).indices[:, : n - 1]
        same = labels[order] == labels[q].view(-1, 1)  # (q, N-1) relevance in rank order
        npos = same.sum(1)
        has = npos > 0
        counted += int(has.sum())
        for k in ks:
            hits[k] += int(same[:, :k].any(1)[has].sum())
        cum = same.cumsum(1).double()
        ranks = torch.arange(1, n, device=feats.device, dtype=torch.float64).view(1, -1)
        ap = ((cum / ranks) * same).sum(1)[has] / npos[has].double()
        ap_sum += float(ap.sum())
    return RetrievalResult(
        rank={k: hits[k] / counted if counted else 0.0 for k in ks},
        mean_ap=ap_sum / counted if counted else 0.0,
        num_queries=counted,
        num_without_positive=n - counted,
    )
