#!/usr/bin/env bash
# Train the shipped demo weights with the four-step recipe on the built-in synthraw data (CPU,
# about 30 minutes on 2 cores), score them beside BM3D, and copy them into the package.
#   bash benchmarks/train_demo_weights.sh [RUN_DIR]     (run it again to resume)
set -euo pipefail
cd "$(dirname "$0")/.."
run="${1:-runs/demo}"
zoo=.venv/bin/zoo
time "$zoo" distill \
    --original mwresnet --original-config '{"widths": [32, 48, 64], "depth": 2}' \
    --siamese mwrcanet --siamese-config '{"widths": [32, 48, 64], "depth": 3}' \
    --steps 4000,4000,800,400 --lrs 4e-4,4e-4,5e-5,2e-5 --pseudo-share 0.25 --batch 16 --patch 96 --out "$run"
# Each network's step with the best validation PSNR (synthval, never the test set): the recorded
# run found step two for mwrcanet (steps three and four lowered it) and step three for mwresnet.
cp "$run/step2-siamese/final.safetensors" plugins/weights/mwrcanet-demo.safetensors
cp "$run/step3-original/final.safetensors" plugins/weights/mwresnet-demo.safetensors
for model in bm3d mwrcanet-demo mwresnet-demo; do "$zoo" eval "$model" --data synthraw; done
