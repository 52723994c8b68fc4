"""Optimisers and schedules of the recipes: LARS as BYOL uses it, SGD, cosine decay with
linear warm-up, and SimSiam's fixed predictor learning rate."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from saliencyaug import _checks


class LARS(torch.optim.Optimizer):
    """LARS (You et al., 2017) as BYOL (Grill et al., NeurIPS 2020) and SimCLR use it.

    For each parameter ``w`` with gradient ``g`` in a group with ``adapt=True``::

        u = g + weight_decay * w
        u = u * trust_coefficient * ||w|| / ||u||     (1 when ||w|| or ||u|| is 0)
        buf = momentum * buf + u
        w = w - lr * buf

    Groups with ``adapt=False`` (BYOL: biases and BatchNorm parameters, with
    ``weight_decay=0``) take the plain momentum step. The trust ratio divides by the norm of
    the update including weight decay, as BYOL's and SimCLR's reference code do; timm's
    ``Lars`` divides by ``||g|| + weight_decay * ||w||`` (the 2017 paper's bound), which is why
    this is not timm's (the two agree when ``weight_decay = 0``).

    Args:
        params: parameters or groups (a group may set ``adapt``, ``weight_decay``, ``lr``).
        lr: learning rate.
        momentum: momentum factor (BYOL: 0.9).
        weight_decay: L2 weight decay added to the gradient before adaptation.
        trust_coefficient: eta (BYOL: 1e-3).
        adapt: apply the trust ratio (default for groups that do not say).

    Examples:
        >>> w = nn.Parameter(torch.tensor([3.0, 4.0]))
        >>> opt = LARS([w], lr=1.0, momentum=0.0, trust_coefficient=0.1)
        >>> w.grad = torch.tensor([0.0, 10.0])
        >>> opt.step(); w.data  # u = g * 0.1 * 5 / 10 = [0, 0.5]
        tensor([3.0000, 3.5000])
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        trust_coefficient: float = 1e-3,
        adapt: bool = True,
    ) -> None:
        _checks.positive("lr", lr, allow_zero=True)
        if not 0 <= _checks.real("momentum", momentum) < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        _checks.positive("weight_decay", weight_decay, allow_zero=True)
        _checks.positive("trust_coefficient", trust_coefficient)
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "weight_decay": weight_decay,
            "trust_coefficient": trust_coefficient,
            "adapt": adapt,
        }
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        """One update of every parameter with a gradient."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for w in group["params"]:
                if w.grad is None:
                    continue
                update = w.grad.add(w, alpha=group["weight_decay"])
                if group["adapt"]:
                    w_norm, u_norm = torch.linalg.vector_norm(w), torch.linalg.vector_norm(update)
                    ratio = torch.where(
                        (w_norm > 0) & (u_norm > 0),
                        group["trust_coefficient"] * w_norm / u_norm,
                        torch.ones_like(w_norm),
                    )
                    update = update.mul(ratio)
                state = self.state[w]
                if group["momentum"] != 0:
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = state["momentum_buffer"] = torch.zeros_like(w)
                    buf.mul_(group["momentum"]).add_(update)
                    update = buf
                w.add_(update, alpha=-group["lr"])
        return loss


def _is_excluded(name: str, parameter: nn.Parameter, module: nn.Module | None) -> bool:
    """Biases and normalisation parameters: BYOL leaves them out of adaptation and decay."""
    norm_types = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)
    return parameter.ndim <= 1 or name.endswith(".bias") or isinstance(module, norm_types)


def parameter_groups(
    named_modules: dict[str, nn.Module], *, weight_decay: float, fixed_lr: Iterable[str] = ()
) -> list[dict[str, Any]]:
    """Parameter groups of the networks in ``named_modules`` that still require gradients:
    weights (weight decay, LARS adaptation) and biases/normalisation parameters (neither), each
    marked ``fixed_lr`` when its network is named in ``fixed_lr`` (SimSiam's predictor).

    Examples:
        >>> groups = parameter_groups({"net": nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))},
        ...                           weight_decay=1e-6)
        >>> [(len(g["params"]), g["weight_decay"], g["adapt"]) for g in groups]
        [(1, 1e-06, True), (3, 0.0, False)]
    """
    fixed = set(fixed_lr)
    groups: list[dict[str, Any]] = []
    for net_name, net in named_modules.items():
        owners = {id(p): m for m in net.modules() for p in m.parameters(recurse=False)}
        weights: list[nn.Parameter] = []
        others: list[nn.Parameter] = []
        for name, p in net.named_parameters():
            if p.requires_grad:
                excluded = _is_excluded(name, p, owners.get(id(p)))
                (others if excluded else weights).append(p)
        for params, decay, adapt in ((weights, weight_decay, True), (others, 0.0, False)):
            if params:
                groups.append(
                    {
                        "params": params,
                        "weight_decay": decay,
                        "adapt": adapt,
                        "fixed_lr": net_name in fixed,
                        "name": f"{net_name}/{'weights' if adapt else 'bias_and_norm'}",
                    }
                )
    return groups


def make_optimizer(
    groups: list[dict[str, Any]],
    *,
    optimizer: str,
    lr: float,
    momentum: float = 0.9,
    trust_coefficient: float = 1e-3,
) -> torch.optim.Optimizer:
    """``"lars"`` (:class:`LARS`, BYOL) or ``"sgd"`` (momentum SGD, MoCo v2 / SimSiam) over
    :func:`parameter_groups`. SGD decays the weights only (MoCo and SimSiam decay every
    parameter; the difference is small and keeps one grouping for all recipes)."""
    optimizer = _checks.choice("optimizer", optimizer, ("lars", "sgd"))
    if optimizer == "lars":
        return LARS(groups, lr=lr, momentum=momentum, trust_coefficient=trust_coefficient)
    sgd_groups = [{k: v for k, v in g.items() if k != "adapt"} for g in groups]
    return torch.optim.SGD(sgd_groups, lr=lr, momentum=momentum)


def cosine_lr(step: int, total: int, warmup: int, peak: float) -> float:
    """Linear warm-up over ``warmup`` steps to ``peak``, then cosine decay to 0 at ``total``.

    Examples:
        >>> [round(cosine_lr(s, 10, 2, 1.0), 3) for s in (0, 1, 2, 6, 10)]
        [0.5, 1.0, 1.0, 0.5, 0.0]
    """
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def set_learning_rate(optimizer: torch.optim.Optimizer, scheduled: float, peak: float) -> None:
    """``scheduled`` for every group, ``peak`` for groups marked ``fixed_lr`` (SimSiam's
    predictor keeps its initial lr)."""
    for group in optimizer.param_groups:
        group["lr"] = peak if group.get("fixed_lr") else scheduled


@dataclass(frozen=True)
class Schedule:
    """A run's length and learning rate: ``per_epoch`` steps per epoch, ``total`` steps
    (``optim.max_steps`` or ``optim.epochs`` epochs), the peak lr (``base_lr x batch / 256``)
    reached after ``warmup`` steps, then cosine decay to 0."""

    per_epoch: int
    total: int
    peak_lr: float
    warmup: int

    @classmethod
    def from_recipe(cls, recipe: dict[str, dict[str, Any]], dataset_size: int) -> Schedule:
        """The schedule of ``recipe`` on a data set of ``dataset_size`` images."""
        optim = recipe["optim"]
        batch = optim["batch_size"]
        per_epoch = dataset_size // batch
        if per_epoch == 0:
            raise ValueError(
                f"the data set has {dataset_size} images, fewer than one batch of {batch}; "
                "lower optim.batch_size"
            )
        total = optim["max_steps"] or optim["epochs"] * per_epoch
        return cls(
            per_epoch, total, optim["base_lr"] * batch / 256, optim["warmup_epochs"] * per_epoch
        )

    def lr(self, step: int) -> float:
        """The learning rate of ``step``."""
        return cosine_lr(step, self.total, self.warmup, self.peak_lr)

    def ends_epoch(self, step: int) -> bool:
        """True after the last step of an epoch or of the run (``step`` steps done)."""
        return step % self.per_epoch == 0 or step == self.total


def recipe_optimizer(
    recipe: dict[str, dict[str, Any]], modules: dict[str, nn.Module], fixed_lr: Iterable[str] = ()
) -> torch.optim.Optimizer:
    """The recipe's optimiser (``optim.optimizer``, momentum, weight decay, trust coefficient)
    over :func:`parameter_groups` of ``modules``, at the schedule's peak lr."""
    optim = recipe["optim"]
    groups = parameter_groups(modules, weight_decay=optim["weight_decay"], fixed_lr=fixed_lr)
    return make_optimizer(
        groups,
        optimizer=optim["optimizer"],
        lr=optim["base_lr"] * optim["batch_size"] / 256,
        momentum=optim["momentum"],
        trust_coefficient=optim["trust_coefficient"],
    )


__all__ = [
    "LARS",
    "Schedule",
    "cosine_lr",
    "make_optimizer",
    "parameter_groups",
    "recipe_optimizer",
    "set_learning_rate",
]
