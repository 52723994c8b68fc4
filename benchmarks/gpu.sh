#!/usr/bin/env bash
# The GPU benchmark, one command: the CUDA tests, then the batched box search, BatchSaliencySwap
# and the training steps of BYOL, BYOL + CVSA, MoCo v2 and MoCo v2 + pairs (ResNet-50, 224 px,
# AMP) as one table; a few minutes on one modern GPU. Run from the repository root with the
# project installed:
#
#   bash benchmarks/gpu.sh                  # on a GPU; writes benchmarks/results/gpu.{md,json}
#   bash benchmarks/gpu.sh --dry-run OUT    # the same code on the CPU at toy sizes (CI)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--dry-run" ]; then
  out="${2:-$(mktemp -d)}"
  mkdir -p "$out"
  python -m saliencyaug.bench.gpu --dry-run --json "$out/gpu.json" | tee "$out/gpu.md"
  exit 0
fi
python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA device')"
python -m pytest -q -m cuda -p no:cacheprovider
python -m saliencyaug.bench.gpu --json benchmarks/results/gpu.json | tee benchmarks/results/gpu.md
