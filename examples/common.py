"""Shared plumbing of the reference trainers: configs, processes, data, checkpoints, logs.

Everything here uses saliencyaug's public API and plain PyTorch; the trainers
(``train_byol.py``, ``train_moco.py``) hold only the method itself.

* Config: a TOML recipe (``configs/*.toml``) merged over :data:`DEFAULTS`; ``--set a.b=v``
  overrides single values.
* Processes: one CPU, one GPU, or many under ``torchrun`` (``RANK``, ``WORLD_SIZE``,
  ``LOCAL_RANK``): DDP with NCCL on GPUs and gloo on CPUs, ``DistributedSampler`` sharding, an
  optional SyncBatchNorm.
* Checkpoints: every ``checkpoint_every`` steps, written atomically (temporary file + rename),
  holding the models, EMA copies, optimiser, scheduler, queues and banks (module buffers), the
  step and every RNG state; ``--resume`` continues the same run, bit for bit on the CPU with
  ``num_workers = 0`` and ``deterministic = true``. Loaded with ``weights_only=True``.
* Logs: JSON lines (``log.jsonl``) of losses and learning rate every ``log_every`` steps and per
  epoch; entries past the checkpoint are dropped on resume.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from saliencyaug.transforms import IMAGENET_MEAN, IMAGENET_STD

DEFAULTS: dict[str, Any] = {
    "data": {
        "dataset": "bundled",
        "root": "",
        "split": "train",
        "size": 224,
        "boxes": "ground_truth",
        "num_workers": 0,
    },
    "views": {
        "first": "rrc",
        "mode": "replace",
        "scale": [0.5, 1.0],
        "rrc_scale": [0.08, 1.0],
        "detector": "spectral_residual",
        "p": 1.0,
    },
    "model": {
        "arch": "resnet18",
        "hidden_dim": 4096,
        "output_dim": 256,
        "sync_bn": False,
        "init": "",
        "freeze_stages": 0,
    },
    "optim": {
        "epochs": 1,
        "batch_size": 32,
        "base_lr": 0.3,
        "weight_decay": 1e-6,
        "momentum": 0.9,
        "warmup_epochs": 0,
        "max_steps": 0,
    },
    "byol": {"base_momentum": 0.996},
    "cvsa": {"enabled": False, "stage": 4, "weight": 1.0, "normalize": True, "temperature": 0.1},
    "moco": {"dim": 128, "hidden_dim": 2048, "queue": 65536, "temperature": 0.2, "momentum": 0.999},
    "pairs": {
        "enabled": False,
        "alpha": 1.0,
        "nu": 0.5,
        "eps_g": 0.1,
        "eps_var": 0.05,
        "kappa": 0.02,
        "bank": 5632,
        "decoder_size": 128,
        "pretrain_epochs": 1,
    },
    "train": {
        "seed": 0,
        "amp": True,
        "deterministic": False,
        "checkpoint_every": 500,
        "log_every": 10,
        "progress": True,
    },
    "eval": {"train_root": "", "test_root": "", "boxes": ""},
}


# ----------------------------------------------------------------------------------------
# Config
# ----------------------------------------------------------------------------------------


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_config(path: str | Path, overrides: list[str] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    """A recipe merged over :data:`DEFAULTS`, then ``section.key=value`` overrides (TOML values).

    Raises:
        ValueError: an unknown section or key (a typo would otherwise be ignored).
    """
    with open(path, "rb") as fh:
        recipe = tomllib.load(fh)
    for section, values in recipe.items():
        if section not in DEFAULTS or not isinstance(values, dict):
            raise ValueError(f"{path}: unknown section [{section}]; known: {sorted(DEFAULTS)}")
        unknown = set(values) - set(DEFAULTS[section])
        if unknown:
            raise ValueError(
                f"{path}: unknown key(s) {sorted(unknown)} in [{section}]; "
                f"known: {sorted(DEFAULTS[section])}"
            )
    cfg = _merge(DEFAULTS, recipe)
    for item in overrides:
        key, _, raw = item.partition("=")
        section, _, name = key.partition(".")
        if not name or section not in cfg or name not in cfg[section]:
            raise ValueError(f"override must name a known section.key=value, got {item!r}")
        cfg[section][name] = tomllib.loads(f"v = {raw}")["v"] if raw else raw
    return cfg


def parse_args(description: str) -> argparse.Namespace:
    """``--config``, ``--out``, ``--resume``, ``--set``."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--config", required=True, help="recipe (TOML)")
    p.add_argument("--out", required=True, help="run folder: checkpoints, log.jsonl, report.json")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.add_argument(
        "--set", nargs="*", default=[], metavar="SECTION.KEY=VALUE", help="override recipe values"
    )
    return p.parse_args()


# ----------------------------------------------------------------------------------------
# Processes
# ----------------------------------------------------------------------------------------


@dataclass
class Dist:
    """Where this process runs."""

    rank: int
    world: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_distributed() -> Dist:
    """Single process, or DDP when launched by ``torchrun``."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
    rank = dist.get_rank() if dist.is_initialized() else 0
    if torch.cuda.is_available():
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    else:
        device = torch.device("cpu")
    return Dist(rank, world, device)


def seed_everything(seed: int, rank: int, deterministic: bool) -> None:
    """Seed torch (per rank, so that ranks draw different views) and optionally force
    deterministic kernels."""
    torch.manual_seed(seed + 1000 * rank)
    if deterministic:
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False


def wrap_ddp(module: nn.Module, d: Dist, sync_bn: bool) -> nn.Module:
    """SyncBatchNorm (optional) and DDP when distributed; the module itself otherwise."""
    if d.world == 1:
        return module
    if sync_bn and d.device.type != "cuda":
        import warnings

        warnings.warn(
            "SyncBatchNorm needs CUDA; on CPU each rank keeps its own BatchNorm statistics",
            stacklevel=2,
        )
    elif sync_bn:
        module = nn.SyncBatchNorm.convert_sync_batchnorm(module)
    ids = [d.device.index] if d.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids)


def sync_target(module: nn.Module, d: Dist, sync_bn: bool) -> nn.Module:
    """SyncBatchNorm for a momentum network too (it is not DDP-wrapped), on CUDA."""
    if d.world > 1 and sync_bn and d.device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    return module


def unwrap(module: nn.Module) -> nn.Module:
    return module.module if isinstance(module, nn.parallel.DistributedDataParallel) else module


# ----------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------


def bundled_folder(root: Path) -> Path:
    """Write scikit-image's bundled photos as a two-class image folder (for smoke recipes)."""
    from PIL import Image

    from saliencyaug.demo import bundled_photos

    photos = bundled_photos(
        ("astronaut", "chelsea", "coffee", "rocket", "cat", "immunohistochemistry")
    )
    for i, (name, img) in enumerate(photos):
        folder = root / ("a" if i % 2 == 0 else "b")
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{name}.png"
        if not target.exists():
            Image.fromarray(img).save(target)
    return root


def dataset_from_config(
    cfg: dict[str, Any], transform: Callable[..., Any] | None, work: Path
) -> Any:
    """The training dataset of a recipe, yielding ``(transform(image, boxes), label)``."""
    from saliencyaug.data import BoxCache, build_box_cache
    from saliencyaug.data.datasets import (
        CUB200,
        FGVCAircraft,
        ImageFolderWithBoxes,
        NABirds,
        StanfordCars,
    )

    data = cfg["data"]
    kind = data["dataset"]
    loaders = {"cub": CUB200, "nabirds": NABirds, "cars": StanfordCars}
    if kind in loaders:
        ds = loaders[kind](data["root"], data["split"], transform=transform)
    elif kind == "aircraft":
        ds = FGVCAircraft(data["root"], data.get("split", "trainval"), transform=transform)
    elif kind in ("folder", "bundled"):
        root = Path(data["root"]) if kind == "folder" else bundled_folder(work / "bundled")
        cache_path = (
            Path(data["boxes"][len("cache:") :])
            if str(data["boxes"]).startswith("cache:")
            else work / "boxes.jsonl"
        )
        if not cache_path.exists():
            build_box_cache(
                root, cache_path, detector=cfg["views"]["detector"], workers=0, progress=False
            )
        ds = ImageFolderWithBoxes(root, BoxCache.load(cache_path, root=root), transform=transform)
    else:
        raise ValueError(f"unknown dataset {kind!r}")
    annotated = kind in loaders or kind == "aircraft"
    if annotated and str(data["boxes"]).startswith("detector:"):
        for i, s in enumerate(ds.samples):  # drop annotation boxes: SaliencySwap detects
            ds.samples[i] = type(s)(s.path, s.label, None)
    return ds


def view_pipeline(cfg: dict[str, Any], pool: Any) -> Callable[..., Any]:
    """MoCo v2 augmentations (CVSA Appendix A.1) with RandomResizedCrop or SaliencySwap first."""
    from saliencyaug.transforms import RandomResizedCropWithMask, SaliencySwap, moco_v2_view

    size = cfg["data"]["size"]
    views = cfg["views"]
    if views["first"] == "saliencyswap":
        first: Any = SaliencySwap(
            pool,
            size=size,
            mode=views["mode"],
            scale=tuple(views["scale"]),
            p=views["p"],
            detector=views["detector"],
        )
    elif views["first"] == "rrc":
        first = RandomResizedCropWithMask(size, scale=tuple(views["rrc_scale"]))
    else:
        raise ValueError(f"views.first must be 'rrc' or 'saliencyswap', got {views['first']!r}")
    return moco_v2_view(first)


def make_loader(
    ds: Any, cfg: dict[str, Any], d: Dist, epoch: int, skip: int
) -> torch.utils.data.DataLoader:
    """This rank's loader for ``epoch`` (its order fixed by the seed and the epoch), starting
    after ``skip`` batches (for resuming mid-epoch without re-running their transforms)."""
    from torch.utils.data import DataLoader, DistributedSampler, Subset

    g = torch.Generator().manual_seed(cfg["train"]["seed"] * 7919 + epoch)
    if d.world > 1:
        sampler = DistributedSampler(
            ds,
            num_replicas=d.world,
            rank=d.rank,
            shuffle=True,
            seed=cfg["train"]["seed"],
            drop_last=True,
        )
        sampler.set_epoch(epoch)
        order = list(sampler)
    else:
        order = torch.randperm(len(ds), generator=g).tolist()
    batch = cfg["optim"]["batch_size"] // d.world
    order = order[: len(order) // batch * batch][skip * batch :]
    return DataLoader(
        Subset(ds, order),
        batch_size=batch,
        shuffle=False,
        num_workers=cfg["data"]["num_workers"],
        drop_last=True,
        generator=g,
    )


def steps_per_epoch(ds: Any, cfg: dict[str, Any], d: Dist) -> int:
    per_rank = len(ds) // d.world
    return per_rank // (cfg["optim"]["batch_size"] // d.world)


# ----------------------------------------------------------------------------------------
# Schedules, checkpoints, logs
# ----------------------------------------------------------------------------------------


def cosine_lr(step: int, total: int, warmup: int, base: float) -> float:
    """Linear warm-up then cosine decay to 0."""
    if step < warmup:
        return base * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return base * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """``torch.save`` to a temporary file in the same folder, then an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".ckpt.", dir=path.parent)
    os.close(fd)
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path: Path, device: torch.device) -> dict[str, Any]:
    return torch.load(path, map_location=device, weights_only=True)


class JsonLog:
    """Append-only JSON-lines log; on resume, entries after ``step`` are dropped."""

    def __init__(self, path: Path, resume_step: int | None) -> None:
        self.path = path
        if resume_step is not None and path.exists():
            keep = [
                line
                for line in path.read_text().splitlines()
                if line and json.loads(line).get("step", 0) <= resume_step
            ]
            path.write_text("".join(line + "\n" for line in keep))
        elif resume_step is None and path.exists():
            path.unlink()

    def write(self, **entry: Any) -> None:
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry) + "\n")


class ViewsAndClean:
    """Two views (a :class:`~saliencyaug.transforms.MultiView`) and the clean image: resized
    (shorter side), centre-cropped, normalised -- the non-augmented input the decoder-pair
    objective reconstructs (second paper, Eq. 2)."""

    def __init__(self, views: Callable[..., Any], size: int) -> None:
        from saliencyaug.transforms import eval_view

        self.views = views
        self.clean = eval_view(size, resize=size)

    def __call__(self, image: Any, boxes: Any = None) -> tuple[Any, torch.Tensor]:
        from saliencyaug.image import to_image_tensor

        return self.views(image, boxes), self.clean(to_image_tensor(image))


@dataclass
class Method:
    """What a trainer contributes to :func:`fit`.

    Attributes:
        loss: ``batch -> (loss, parts)`` for one batch (under autocast).
        after_step: ``(step, total)`` after each optimiser step (EMA updates).
        state: the trainer's own checkpoint entries (networks, queues, banks).
        load: restores them from a checkpoint.
        encoder: the backbone saved as ``encoder.pt`` and evaluated at the end.
    """

    loss: Callable[[tuple[torch.Tensor, ...]], tuple[torch.Tensor, dict[str, float]]]
    after_step: Callable[[int, int], None]
    state: Callable[[], dict[str, Any]]
    load: Callable[[dict[str, Any]], None]
    encoder: Callable[[], nn.Module]


def checkpoint_to_resume(out: Path, d: Dist, resume: bool) -> dict[str, Any] | None:
    """The checkpoint of ``OUT`` when resuming and one exists."""
    path = out / "checkpoint.pt"
    return load_checkpoint(path, d.device) if resume and path.exists() else None


def fit(
    cfg: dict[str, Any],
    d: Dist,
    out: Path,
    ds: Any,
    params: list[nn.Parameter],
    method: Method,
    state: dict[str, Any] | None,
    desc: str,
) -> dict[str, Any]:
    """The training loop shared by the trainers: SGD (momentum, weight decay, lr = base x
    batch / 256 with warm-up and cosine decay), AMP on GPUs, logging, atomic checkpoints, and
    exact resume from ``state``. Returns the last log entry."""
    from tqdm.auto import tqdm

    o = cfg["optim"]
    lr = o["base_lr"] * o["batch_size"] / 256
    opt = torch.optim.SGD(params, lr=lr, momentum=o["momentum"], weight_decay=o["weight_decay"])
    amp = cfg["train"]["amp"] and d.device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    spe = steps_per_epoch(ds, cfg, d)
    total = o["max_steps"] or o["epochs"] * spe
    step = 0
    if state is not None:
        method.load(state)
        opt.load_state_dict(state["optimizer"])
        scaler.load_state_dict(state["scaler"])
        step = state["step"]
        set_rng_state(state["rng"])
    log = JsonLog(out / "log.jsonl", step if state is not None else None)
    every = cfg["train"]
    last: dict[str, Any] = {}
    bar = tqdm(total=total, initial=step, disable=not (every["progress"] and d.main), desc=desc)
    while step < total:
        epoch, skip = divmod(step, spe)
        for batch in batches(make_loader(ds, cfg, d, epoch, skip)):
            batch = tuple(t.to(d.device, non_blocking=True) for t in batch)
            for g in opt.param_groups:
                g["lr"] = cosine_lr(step, total, o["warmup_epochs"] * spe, lr)
            with torch.autocast(d.device.type, dtype=torch.float16, enabled=amp):
                loss, parts = method.loss(batch)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            method.after_step(step, total)
            step += 1
            bar.update(1)
            last = {
                "step": step,
                "epoch": epoch,
                "lr": opt.param_groups[0]["lr"],
                "loss": float(loss.detach()),
                **parts,
            }
            if d.main and (step % every["log_every"] == 0 or step == total or step % spe == 0):
                log.write(**last)
            if d.main and (step % every["checkpoint_every"] == 0 or step == total):
                save_checkpoint(
                    out / "checkpoint.pt",
                    {
                        **method.state(),
                        "optimizer": opt.state_dict(),
                        "scaler": scaler.state_dict(),
                        "step": step,
                        "rng": rng_state(),
                    },
                )
                torch.save(method.encoder().state_dict(), out / "encoder.pt")
            if step >= total:
                break
    bar.close()
    return last


def make_backbone(cfg: dict[str, Any], stages: tuple[int, ...] = (4,)) -> nn.Module:
    """The recipe's ResNet backbone, initialised from ``model.init`` when given."""
    from saliencyaug.models import ResNetBackbone

    m = cfg["model"]
    backbone = ResNetBackbone(m["arch"], stages=stages)
    if m["init"]:
        from saliencyaug.models import load_encoder

        backbone.load_state_dict(load_encoder(m["init"], m["arch"]).state_dict(), strict=False)
    return backbone


class _CleanImage:
    """Non-augmented image in [0, 1], resized and centre-cropped (decoder pre-training)."""

    def __init__(self, size: int) -> None:
        from torchvision.transforms import v2

        self.tf = v2.Compose(
            [v2.Resize(size), v2.CenterCrop(size), v2.ToDtype(torch.float32, scale=True)]
        )

    def __call__(self, image: Any, boxes: Any = None) -> torch.Tensor:
        from saliencyaug.image import to_image_tensor

        return self.tf(to_image_tensor(image))


class DecoderPairs:
    """The decoder-pair objective (second paper) as a trainer adds it to its own loss: the
    decoder, the :class:`~saliencyaug.losses.DecoderPairLoss` (bank, perturbers) and the
    decoder's pre-training with the encoder frozen."""

    def __init__(self, cfg: dict[str, Any], d: Dist, feature_dim: int) -> None:
        from saliencyaug.synthesized import DecoderPairObjective, FeatureDecoder

        pc = cfg["pairs"]
        self.cfg = cfg
        self.d = d
        self.decoder = FeatureDecoder(feature_dim, pc["decoder_size"]).to(d.device)
        self.loss = DecoderPairObjective(
            feature_dim,
            bank_size=pc["bank"],
            alpha=pc["alpha"],
            nu=pc["nu"],
            eps_g=pc["eps_g"],
            eps_var=pc["eps_var"],
            kappa=pc["kappa"],
            mean=IMAGENET_MEAN,
            std=IMAGENET_STD,
        ).to(d.device)

    @property
    def modules(self) -> dict[str, nn.Module]:
        """Checkpoint entries."""
        return {"decoder": self.decoder, "pairs": self.loss}

    def add(
        self,
        features: Callable[[torch.Tensor], torch.Tensor],
        projector: nn.Module,
        clean: torch.Tensor,
        v_aug: torch.Tensor,
        loss: torch.Tensor,
        parts: dict[str, float],
    ) -> torch.Tensor:
        """``loss + alpha L_R + nu L_Cp``: L_R on the clean images, Grad-CAM against ``v_aug``
        (the online features of view 1); the parts are added to ``parts``."""
        res = self.loss(
            encoder=features,
            projector=projector,
            decoder=self.decoder,
            images=clean,
            augmented_features=v_aug.detach(),
        )
        parts.update(
            reconstruction=float(res.reconstruction.detach()), pair=float(res.pair.detach())
        )
        return loss + res.loss

    def pretrain(
        self, features: Callable[[torch.Tensor], torch.Tensor], encoder: nn.Module, work: Path
    ) -> None:
        """Pre-train the decoder on this rank's clean images, the encoder frozen."""
        from torch.utils.data import DataLoader, DistributedSampler

        from saliencyaug.synthesized import pretrain_decoder

        cfg, d = self.cfg, self.d
        if cfg["pairs"]["pretrain_epochs"] <= 0:
            return
        ds = dataset_from_config(cfg, _CleanImage(cfg["data"]["size"]), work)
        sampler = DistributedSampler(ds, d.world, d.rank, shuffle=False) if d.world > 1 else None
        loader = DataLoader(
            ds,
            batch_size=cfg["optim"]["batch_size"] // d.world,
            sampler=sampler,
            num_workers=cfg["data"]["num_workers"],
        )

        class _Images:  # re-iterable, once per epoch
            def __iter__(self) -> Iterator[torch.Tensor]:
                return (images for images, _ in loader)

        mean = torch.tensor(IMAGENET_MEAN, device=d.device).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD, device=d.device).view(1, 3, 1, 1)
        pretrain_decoder(
            lambda x01: features((x01 - mean) / std),
            self.decoder,
            _Images(),
            epochs=cfg["pairs"]["pretrain_epochs"],
            device=d.device,
            encoder_modules=[encoder],
        )


def decoder_pairs(cfg: dict[str, Any], d: Dist, feature_dim: int) -> DecoderPairs | None:
    """:class:`DecoderPairs` when ``pairs.enabled``, else None."""
    return DecoderPairs(cfg, d, feature_dim) if cfg["pairs"]["enabled"] else None


def two_view_dataset(cfg: dict[str, Any], out: Path) -> Any:
    """The training set yielding the two views (and, with ``pairs.enabled``, the clean image)."""
    from saliencyaug.transforms import MultiView

    pool = dataset_from_config(cfg, None, out)
    views: Callable[..., Any] = MultiView(view_pipeline(cfg, pool))
    if cfg["pairs"]["enabled"]:
        views = ViewsAndClean(views, cfg["data"]["size"])
    return dataset_from_config(cfg, views, out)


def cli_main(
    train: Callable[[dict[str, Any], Path, bool], dict[str, Any]], description: str
) -> None:
    """The trainers' command line: parse, load the recipe, train, print the last log entry."""
    args = parse_args(description)
    cfg = load_config(args.config, args.set)
    print(train(cfg, Path(args.out), args.resume)["last"])


def batches(loader: Any) -> Iterator[tuple[torch.Tensor, ...]]:
    """``(view1, mask1, view2, mask2[, clean])`` from batches of ``(views, label)`` or
    ``((views, clean), label)``."""
    for item, _ in loader:
        if isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[1], torch.Tensor):
            views, clean = item
            (x1, m1), (x2, m2) = views
            yield x1, m1, x2, m2, clean
        else:
            (x1, m1), (x2, m2) = item
            yield x1, m1, x2, m2


def final_evaluation(
    cfg: dict[str, Any], backbone: nn.Module, out: Path, work: Path, d: Dist
) -> dict[str, Any] | None:
    """The evaluation command's report for ``eval.train_root`` / ``eval.test_root`` (the
    bundled photos for ``bundled`` recipes), written to ``OUT/report.json``."""
    from saliencyaug.evaluation.report import evaluate, write_report

    ev = cfg["eval"]
    train_root, test_root = ev["train_root"], ev["test_root"]
    if cfg["data"]["dataset"] == "bundled" and not train_root:
        train_root = test_root = str(bundled_folder(work / "bundled"))
    if not (d.main and train_root and test_root):
        return None
    report = evaluate(
        unwrap(backbone),
        train_root,
        test_root,
        ev["boxes"] or None,
        image_size=cfg["data"]["size"],
        batch_size=16,
        device=str(d.device),
        progress=False,
        knn_k=3,
    )
    write_report(report, out / "report.json")
    return report
