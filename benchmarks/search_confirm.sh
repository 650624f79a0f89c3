#!/usr/bin/env bash
# Confirm the recorded search by longer training (issue 16): the exported architectures in
# benchmarks/results/search/confirm/ trained from scratch with one recipe (3000 steps on mixed-raw,
# 7.5x the proxy's 400, batch 16, patch 96), two at a time on one thread each; then scored.
#   bash benchmarks/search_confirm.sh      (run it again to resume)
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1
mkdir -p runs/search-confirm
run() {
    local out="runs/search-confirm/$1"
    .venv/bin/zoo train "benchmarks/results/search/confirm/$1.json" --data mixed-raw --steps 3000 --batch 16 \
        --patch 96 --lr 6e-4 --val crossval-raw --val-every 500 --out "$out" $([ -e "$out/last.pt" ] && echo --resume)
}
run search-knee & run search-trial1 & wait
run search-trial0 & run search-trial26 & wait
.venv/bin/python benchmarks/search_confirm.py
