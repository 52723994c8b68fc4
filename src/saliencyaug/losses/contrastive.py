"""Contrastive losses: InfoNCE with a key queue (MoCo v2) and NT-Xent over pairs (SimCLR; the
second paper's Eq. 1 and 7).

He et al., CVPR 2020 and Chen et al., arXiv 2003.04297 (MoCo, MoCo v2); Chen et al., ICML 2020
(SimCLR's NT-Xent); van den Oord et al., arXiv 1807.03748 (InfoNCE).

Examples:
    >>> import torch
    >>> q, k = torch.randn(8, 16), torch.randn(8, 16)
    >>> info_nce(q, k).ndim, nt_xent(q, k).ndim
    (0, 0)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from saliencyaug import _checks
from saliencyaug._checks import Reduction
from saliencyaug.distributed import concat_all_gather, gather_with_grad, global_rows, world_size
from saliencyaug.memory import MemoryQueue


def info_nce(
    query: torch.Tensor,
    key: torch.Tensor,
    *,
    negatives: torch.Tensor | None = None,
    temperature: float = 0.2,
    reduction: Reduction = "mean",
    gather_distributed: bool = False,
) -> torch.Tensor:
    """InfoNCE: cross-entropy of ``[q . k+, q . negatives] / temperature`` with the positive
    first; vectors are l2-normalised, ``key`` and ``negatives`` detached.

    Args:
        query: ``(B, d)`` queries.
        key: ``(B, d)`` positive keys.
        negatives: ``(K, d)`` negative keys (MoCo's queue), or None to use the other keys of
            the batch (``key`` against every ``query``, the positive on the diagonal; needs
            ``B >= 2``).
        temperature: MoCo v2's 0.2 by default.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (``(B,)``).
        gather_distributed: with in-batch negatives (``negatives=None``) under
            ``torch.distributed``, take the keys of every process as negatives (the loss is
            then over this process's queries against the global batch, and the same maths at
            any process count); every process must call it. No effect in one process.

    Raises:
        ValueError: shapes that do not match, NaN/inf, or no negative at all.
    """
    how = _checks.reduction(reduction)
    temperature = _checks.positive("temperature", temperature)
    _checks.vector_batches(("query", "key"), query, key)
    dtype = torch.promote_types(query.dtype, key.dtype)
    qn = F.normalize(query.to(dtype), dim=1)
    kn = F.normalize(key.detach().to(dtype), dim=1)
    if negatives is None:
        if query.shape[0] < 2:
            raise ValueError(
                "info_nce without negatives uses the other keys of the batch, so it needs a "
                f"batch of at least 2, got {query.shape[0]}"
            )
        candidates = kn
        labels = torch.arange(query.shape[0], device=query.device)
        if _checks.boolean("gather_distributed", gather_distributed) and world_size() > 1:
            candidates = concat_all_gather(kn)  # keys are detached: no gradient to gather
            labels = labels + global_rows(query.shape[0]).start
        logits = qn @ candidates.t()
    else:
        _checks.tensor("negatives", negatives, ndim=2, shape="(K, d)", floating=True)
        _checks.finite_values("negatives", negatives)
        if negatives.shape[1] != query.shape[1]:
            raise ValueError(
                f"negatives must be (K, {query.shape[1]}), got {tuple(negatives.shape)}"
            )
        neg = F.normalize(negatives.detach(), dim=1).to(qn.dtype)
        logits = torch.cat([(qn * kn).sum(1, keepdim=True), qn @ neg.t()], dim=1)
        labels = torch.zeros(query.shape[0], dtype=torch.long, device=query.device)
    return F.cross_entropy(logits / temperature, labels, reduction=how)


def nt_xent(
    z1: torch.Tensor,
    z2: torch.Tensor,
    *,
    temperature: float = 0.2,
    decoupled: bool = False,
    reduction: Reduction = "mean",
    gather_distributed: bool = False,
) -> torch.Tensor:
    """Symmetric InfoNCE over a batch of pairs (SimCLR's NT-Xent).

    Each of the ``2B`` vectors is an anchor; its positive is its pair, its negatives the other
    ``2B - 2`` vectors. ``decoupled=True`` leaves the positive out of the denominator, as the
    second paper writes its Eq. 1 and 7 (Yeh et al.'s decoupled contrastive loss).

    Args:
        z1: ``(B, d)`` embeddings of the first views.
        z2: ``(B, d)`` embeddings of the second views; ``(z1[i], z2[i])`` are the positive
            pairs.
        temperature: softmax temperature.
        decoupled: exclude the positive from the denominator.
        reduction: ``"mean"`` over the ``2B`` anchors, ``"sum"`` or ``"none"`` (``(2B,)``,
            anchors of ``z1`` first).
        gather_distributed: under ``torch.distributed``, contrast this process's anchors with
            the pairs of every process (gathered with gradients,
            :func:`~saliencyaug.distributed.gather_with_grad`): with DDP the gradients are
            then those of the loss over the global batch, whatever the number of processes;
            every process must call it. No effect in one process.

    Raises:
        ValueError: shapes that do not match, NaN/inf, or one pair in all with ``decoupled``
            (no negative is left).
    """
    how = _checks.reduction(reduction)
    temperature = _checks.positive("temperature", temperature)
    decoupled = _checks.boolean("decoupled", decoupled)
    gather = _checks.boolean("gather_distributed", gather_distributed) and world_size() > 1
    _checks.vector_batches(("z1", "z2"), z1, z2)
    b = z1.shape[0]
    z1, z2 = z1.to(torch.promote_types(z1.dtype, z2.dtype)), z2.to(z1.dtype)
    # candidates: the pairs of every process; anchors: this process's rows of them
    n, start = (b * world_size(), global_rows(b).start) if gather else (b, 0)
    if decoupled and n < 2:
        raise ValueError(
            "nt_xent(decoupled=True) needs a batch of at least 2: with one pair "
            "no negative is left in the denominator"
        )
    if gather:
        z1, z2 = gather_with_grad(z1), gather_with_grad(z2)
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    mine = torch.arange(start, start + b, device=z.device)
    anchors = torch.cat([mine, mine + n])
    positives = torch.cat([mine + n, mine])
    rows = torch.arange(2 * b, device=z.device)
    sim = (z[anchors] @ z.t()) / temperature
    sim = sim.masked_fill(F.one_hot(anchors, 2 * n).bool(), float("-inf"))
    pos = sim[rows, positives]
    if decoupled:
        sim = sim.masked_fill(F.one_hot(positives, 2 * n).bool(), float("-inf"))
    return _checks.reduce(torch.logsumexp(sim, dim=1) - pos, how)


class NTXentLoss(nn.Module):
    """Module form of :func:`nt_xent`: ``forward(z1, z2)``."""

    def __init__(
        self,
        *,
        temperature: float = 0.2,
        decoupled: bool = False,
        reduction: Reduction = "mean",
        gather_distributed: bool = False,
    ) -> None:
        super().__init__()
        self.temperature = _checks.positive("temperature", temperature)
        self.decoupled = _checks.boolean("decoupled", decoupled)
        self.reduction: Reduction = _checks.reduction(reduction)
        self.gather_distributed = _checks.boolean("gather_distributed", gather_distributed)

    def forward(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        return nt_xent(
            z1,
            z2,
            temperature=self.temperature,
            decoupled=self.decoupled,
            reduction=self.reduction,
            gather_distributed=self.gather_distributed,
        )


class MoCoLoss(nn.Module):
    """InfoNCE of queries against their keys and a queue of negative keys (MoCo v2).

    ``forward(query, key)`` returns the loss against the current queue, then enqueues the keys
    (gathered from every process under DDP) unless ``update=False``, as MoCo's step does. The
    queue is a :class:`~saliencyaug.memory.MemoryQueue` of unit vectors, started at random
    and saved in ``state_dict``.

    Args:
        dim: embedding dimension (MoCo v2: 128).
        queue_size: number of negatives (MoCo v2: 65536; keep it well below the data set's size,
            or stale keys of a query's own image act as its negatives).
        temperature: softmax temperature (MoCo v2: 0.2).
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Examples:
        >>> loss = MoCoLoss(dim=4, queue_size=16)
        >>> q, k = torch.randn(2, 4), torch.randn(2, 4)
        >>> float(loss(q, k)) > 0, len(loss.queue)
        (True, 16)
    """

    def __init__(
        self,
        dim: int = 128,
        queue_size: int = 65536,
        *,
        temperature: float = 0.2,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__()
        self.temperature = _checks.positive("temperature", temperature)
        self.reduction: Reduction = _checks.reduction(reduction)
        dim = _checks.integer("dim", dim, minimum=1)
        queue_size = _checks.integer("queue_size", queue_size, minimum=1)
        self.queue = MemoryQueue(dim, queue_size, normalize=True, initial="random")

    def forward(
        self, query: torch.Tensor, key: torch.Tensor, *, update: bool = True
    ) -> torch.Tensor:
        # the queue starts full (random unit keys) and stays full: every row is a negative,
        # and their order does not change InfoNCE (read as is, it also compiles)
        loss = info_nce(
            query,
            key,
            negatives=self.queue.memory.clone(),
            temperature=self.temperature,
            reduction=self.reduction,
        )
        if update:
            self.queue.add(key)
        return loss


__all__ = ["MoCoLoss", "NTXentLoss", "info_nce", "nt_xent"]
