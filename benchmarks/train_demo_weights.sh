#!/usr/bin/env bash
# Train the shipped demo weights with the four-step recipe on the built-in synthraw data (CPU,
# about 2 hours on 2 cores), score them beside BM3D, and copy them into the package.
#   bash benchmarks/train_demo_weights.sh [RUN_DIR]     (run it again to resume)
set -euo pipefail
cd "$(dirname "$0")/.."
run="${1:-runs/demo}"
zoo=.venv/bin/zoo
# Steps three and four use the defaults: whole 256-pixel blocks, batch 4, a 0.99 EMA, and a
# quarter of their patches pseudo-labelled by the networks' x8 self-ensembles.
time "$zoo" distill \
    --original mwresnet --original-config '{"widths": [32, 48, 64], "depth": 2}' \
    --siamese mwrcanet --siamese-config '{"widths": [32, 48, 64], "depth": 3}' \
    --steps 15000,15000,4000,1000 --lrs 6e-4,6e-4,3e-4,1e-4 --batch 16 --patch 96 --out "$run"
# The recipe's output: mwrcanet after step four; mwresnet after its step-three fine-tuning.
cp "$run/step4-siamese/final.safetensors" plugins/weights/mwrcanet-demo.safetensors
cp "$run/step3-original/final.safetensors" plugins/weights/mwresnet-demo.safetensors
for model in bm3d mwrcanet-demo mwresnet-demo; do "$zoo" eval "$model" --data synthraw; done
