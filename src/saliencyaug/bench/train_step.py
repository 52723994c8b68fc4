"""Training-step cost: ``saliencyaug bench cvsa-step`` and ``saliencyaug bench pairs-step``.

``cvsa-step``: one BYOL training step (ResNet-18, two views, MLP projector/predictor, EMA
target, SGD) against the same step with the CVSA saliency alignment added (conv
projector/predictor on the stage-4 maps, their EMA target, the alignment loss).

``pairs-step``: one MoCo v2 step (ResNet-18, MLP head 2048 -> 128, momentum encoder, queue of
65536, InfoNCE T = 0.2) against the same step with the decoder-pair objective (clean-image
pass, decoder, Grad-CAM and variance noise, encoder pass over the generated pairs).

On the CPU. Each variant runs in its own subprocess (so that its peak resident memory can be
read), alternating the variants several times so that drift affects both alike; the report
gives the median step time, the ratio, and the peak RSS of each process.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from typing import Any

import numpy as np

from saliencyaug._checks import DeferredChecks
from saliencyaug.bench.environment import machine_header
from saliencyaug.losses import MoCoLoss, SaliencyAlignmentLoss, byol_loss
from saliencyaug.models import (
    ConvPredictor,
    ConvProjector,
    MLPHead,
    ResNetBackbone,
    ema_copy,
    ema_update,
)
from saliencyaug.synthesized import DecoderPairObjective, FeatureDecoder
from saliencyaug.transforms import IMAGENET_MEAN, IMAGENET_STD


def step_function(
    variant: str,
    batch: int,
    size: int,
    hidden: int,
    decoder_size: int = 224,
    *,
    arch: str = "resnet18",
    device: str = "cpu",
    amp: bool = False,
) -> Any:
    """One training step of ``variant`` (byol, cvsa, moco, pairs) as a function returning
    the loss as a tensor. As in the trainers, the losses' checks are deferred
    (:class:`saliencyaug.DeferredChecks`) and read once at the end of the step, where the
    caller synchronises to time it anyway."""
    if variant in ("moco", "pairs"):
        step = _moco_step_fn(
            variant == "pairs", batch, size, decoder_size, arch=arch, device=device, amp=amp
        )
    else:
        step = _byol_step_fn(variant, batch, size, hidden, arch=arch, device=device, amp=amp)

    def checked_step() -> Any:
        with DeferredChecks():
            return step()

    return checked_step


def _byol_step_fn(
    variant: str, batch: int, size: int, hidden: int, *, arch: str, device: str, amp: bool
) -> Any:
    import torch

    torch.manual_seed(0)
    backbone = ResNetBackbone(arch, stages=(4,))
    width = backbone.output_dim
    proj, pred = MLPHead(width, hidden, 256), MLPHead(256, hidden, 256)
    modules = [backbone, proj, pred]
    cvsa = variant == "cvsa"
    if cvsa:
        cproj, cpred = ConvProjector(width, hidden, 256), ConvPredictor(256, hidden, 256)
        modules += [cproj, cpred]
        align = SaliencyAlignmentLoss()
    online = torch.nn.ModuleList(modules).train().to(device)
    trained = torch.nn.ModuleList([backbone, proj] + ([cproj] if cvsa else []))
    target = ema_copy(trained)
    assert isinstance(target, torch.nn.ModuleList)
    opt = torch.optim.SGD(online.parameters(), lr=0.05, momentum=0.9)
    scaler = torch.amp.GradScaler(device, enabled=amp)
    x1, x2 = (torch.randn(batch, 3, size, size, device=device) for _ in range(2))
    m1 = torch.zeros(batch, 1, size, size, dtype=torch.uint8, device=device)
    m1[:, :, size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = 1
    m2 = m1.flip(-1)

    def step() -> torch.Tensor:
        with torch.autocast(device, dtype=torch.float16, enabled=amp):
            out1, out2 = backbone(x1), backbone(x2)
            h1, h2 = proj(out1.pooled), proj(out2.pooled)
            p1, p2 = pred(h1), pred(h2)
            with torch.no_grad():
                t1, t2 = target[0](x1), target[0](x2)
                th1, th2 = target[1](t1.pooled), target[1](t2.pooled)
            if cvsa:
                pc1, pc2 = cpred(cproj(out1.maps[4])), cpred(cproj(out2.maps[4]))
                with torch.no_grad():
                    tc1, tc2 = target[2](t1.maps[4]), target[2](t2.maps[4])
        loss = byol_loss((p1.float(), p2.float()), (th1.float(), th2.float()))
        if cvsa:
            loss = loss + align((pc1.float(), pc2.float()), (tc1.float(), tc2.float()), (m1, m2))
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        ema_update(target, trained, 0.99)
        return loss.detach()

    return step


def _moco_step_fn(
    pairs: bool,
    batch: int,
    size: int,
    decoder_size: int,
    *,
    arch: str = "resnet18",
    device: str = "cpu",
    amp: bool = False,
) -> Any:
    import torch
    from torch import nn

    torch.manual_seed(0)
    backbone = ResNetBackbone(arch)
    width = backbone.output_dim
    head = nn.Sequential(nn.Linear(width, 2048), nn.ReLU(inplace=True), nn.Linear(2048, 128))
    online = nn.ModuleList([backbone, head]).to(device)
    target = ema_copy(online)
    assert isinstance(target, nn.ModuleList)
    moco = MoCoLoss(128, 65536, temperature=0.2).to(device)
    params = list(online.parameters())
    if pairs:
        decoder = FeatureDecoder(width, decoder_size).to(device)
        pair_loss = DecoderPairObjective(width, mean=IMAGENET_MEAN, std=IMAGENET_STD).to(device)
        params += list(decoder.parameters())
    opt = torch.optim.SGD(params, lr=0.03, momentum=0.9, weight_decay=1e-4)
    scaler = torch.amp.GradScaler(device, enabled=amp)
    x1, x2, clean = (torch.randn(batch, 3, size, size, device=device) for _ in range(3))

    def step() -> torch.Tensor:
        with torch.autocast(device, dtype=torch.float16, enabled=amp):
            v1 = backbone(x1).pooled
            q = head(v1)
            with torch.no_grad():
                k = target[1](target[0](x2).pooled)
        loss = moco(q.float(), k.float())
        if pairs:
            with torch.autocast(device, dtype=torch.float16, enabled=amp):
                extra = pair_loss(
                    encoder=backbone,
                    projector=head,
                    decoder=decoder,
                    images=clean,
                    augmented_features=v1.detach().float(),
                )
            loss = loss + extra.loss.float()
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        ema_update(target, online, 0.999)
        return loss.detach()

    return step


def measure(
    variant: str, batch: int, size: int, steps: int, hidden: int, decoder_size: int = 224
) -> dict[str, Any]:
    """Warm up one step, then time ``steps`` steps; peak RSS of this process in MiB."""
    step = step_function(variant, batch, size, hidden, decoder_size)
    float(step())
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        float(step())
        times.append(time.perf_counter() - t0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"variant": variant, "step_s": times, "peak_rss_mib": rss}


LABELS = {
    "byol": "BYOL",
    "cvsa": "BYOL + CVSA alignment (stage 4)",
    "moco": "MoCo v2",
    "pairs": "MoCo v2 + decoder-pair objective",
}


def run(
    batch: int = 32,
    size: int = 224,
    steps: int = 3,
    repeats: int = 2,
    hidden: int = 4096,
    pair: tuple[str, str] = ("byol", "cvsa"),
    decoder_size: int = 224,
    target: float = 1.10,
) -> dict[str, Any]:
    """Alternate the two variants' subprocesses ``repeats`` times; medians and ratio."""
    import torch

    results: dict[str, list[dict[str, Any]]] = {pair[0]: [], pair[1]: []}
    for _ in range(repeats):
        for variant in pair:
            cmd = [sys.executable, "-m", "saliencyaug.bench.train_step", "--variant", variant]
            cmd += ["--batch", str(batch), "--size", str(size), "--steps", str(steps)]
            cmd += ["--hidden", str(hidden), "--decoder-size", str(decoder_size)]
            res = subprocess.run(cmd, capture_output=True, text=True, check=True)
            results[variant].append(json.loads(res.stdout.strip().splitlines()[-1]))
    rows: list[dict[str, Any]] = []
    for variant, runs in results.items():
        times = [t for r in runs for t in r["step_s"]]
        rows.append(
            {
                "variant": LABELS[variant],
                "median_step_s": float(np.median(times)),
                "peak_rss_mib": float(max(r["peak_rss_mib"] for r in runs)),
                "steps": len(times),
            }
        )
    ratio = rows[1]["median_step_s"] / rows[0]["median_step_s"]
    header = machine_header() | {
        "torch_threads": torch.get_num_threads(),
        "batch": batch,
        "size": size,
        "hidden_dim": hidden,
        "decoder_size": decoder_size if "pairs" in pair else None,
    }
    return {
        "header": header,
        "rows": rows,
        "overhead": ratio - 1.0,
        "memory_overhead_mib": rows[1]["peak_rss_mib"] - rows[0]["peak_rss_mib"],
        "target": {
            "target": f"{LABELS[pair[1]]} step <= {target:.2f}x {LABELS[pair[0]]} step",
            "value": ratio,
            "met": ratio <= target,
        },
    }


def format_report(report: dict[str, Any]) -> str:
    """Markdown."""
    h = report["header"]
    names = [r["variant"] for r in report["rows"]]
    lines = [f"# training-step benchmark: {names[0]} vs {names[1]}", ""]
    lines += [f"- {k}: {v}" for k, v in h.items()]
    lines += [
        "",
        "| variant | median s/step | peak RSS (MiB) | steps timed |",
        "|---|---:|---:|---:|",
    ]
    for r in report["rows"]:
        lines.append(
            f"| {r['variant']} | {r['median_step_s']:.2f} | {r['peak_rss_mib']:.0f} "
            f"| {r['steps']} |"
        )
    t = report["target"]
    lines += [
        "",
        f"overhead: {100 * report['overhead']:+.1f}% time, "
        f"{report['memory_overhead_mib']:+.0f} MiB peak RSS",
        "",
        "| target | measured | met |",
        "|---|---:|---|",
        f"| {t['target']} | {t['value']:.3f}x | {'yes' if t['met'] else 'NO'} |",
    ]
    return "\n".join(lines)


def _main() -> None:  # pragma: no cover - run as a subprocess by `run`
    parser = argparse.ArgumentParser()
    parser.add_argument("--variant", choices=sorted(LABELS), required=True)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--hidden", type=int, default=4096)
    parser.add_argument("--decoder-size", type=int, default=224)
    a = parser.parse_args()
    print(json.dumps(measure(a.variant, a.batch, a.size, a.steps, a.hidden, a.decoder_size)))


if __name__ == "__main__":  # pragma: no cover
    _main()
