"""Precision side by side for the shipped demo models (issue 25), in one run.

For each model: milliseconds per 256x256 image and the PSNR loss against float32 on its held-out set
(crossdomain-raw / crossdomain-srgb, all 120 blocks) for float32 (PyTorch, onnxruntime, OpenVINO),
bfloat16 (PyTorch, OpenVINO) and INT8 (OpenVINO through NNCF, onnxruntime's QDQ; each made by
``zoo quantize`` on the model's validation set with the 0.05 dB bound), then what ``--precision auto``
picks; and the issue's ratios: the fastest INT8 against the fastest bfloat16, auto against the
fastest path within 0.05 dB. Timings: every path of a model in blocks of calls, the order turning
(zoo.export.engines.measure), the median.

    python benchmarks/precision.py                      # prints the tables
    python benchmarks/precision.py --out benchmarks/results/precision.md
    python benchmarks/precision.py --card               # also writes the bfloat16 losses onto the shipped cards
    python benchmarks/precision.py --models mwresnet-demo --quick
    python benchmarks/precision.py --threads 1       # one core, where the other is busy

The noise-aware models (mwrcanet-demo, mwrcanet-srgb-demo) have every path too: each engine runs the
whole network (the image and its noise map), the map estimated from each block and built beside the
engine by ``zoo.denoise``, as ``zoo denoise`` runs it; INT8 is calibrated on the image with its map.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

MODELS = ("mwrcanet-demo", "mwresnet-demo", "mwrcanet-srgb-demo")
VALIDATION = {1: "crossval-raw", 3: "crossval-srgb"}


def machine() -> str:
    from zoo.machine import stamp

    load = os.getloadavg()
    trainings = subprocess.run(["pgrep", "-fc", "zoo train"], capture_output=True, text=True).stdout.strip() or "0"
    return f"{stamp()}; load average {load[0]:.1f} at the start, {trainings} `zoo train` running"


def paths(model, channels: int, folder: Path, quick: bool, log) -> dict:
    """Every path's runner builder, by name (engine/precision)."""
    import functools

    from zoo.data.specs import load_data
    from zoo.export.engines import make_runner
    from zoo.export.quantize import int8_runner, quantize

    # A noise-aware model's paths run its whole network (image and map): zoo.denoise builds the map
    # beside each of them (zoo.infer.conditioning.Conditioned), so they are timed and scored with it.
    build = functools.partial(make_runner, model=model, device="cpu")
    found = {"torch/float32": functools.partial(build, "torch", dtype="float32"),
             "torch/bfloat16": functools.partial(build, "torch", dtype="bfloat16"),
             "onnxruntime/float32": functools.partial(build, "onnxruntime", dtype="float32"),
             "openvino/float32": functools.partial(build, "openvino", dtype="float32"),
             "openvino/bfloat16": functools.partial(build, "openvino", dtype="bfloat16")}
    validation = list(load_data(VALIDATION[channels]))[: 8 if quick else None]
    for engine, suffix in (("openvino", ".xml"), ("onnxruntime", ".onnx")):
        target = folder / f"int8{suffix}"
        start = time.perf_counter()
        card = quantize(model, target, validation, validation, engine=engine, max_drop=0.05, data=VALIDATION[channels],
                        log=log)
        log(f"{engine} int8: {card['kept_in_float']} kept in float ({card['method']}), {card['loss_db']:.3f} dB on "
            f"{card['validation']}, quantized in {time.perf_counter() - start:.0f} s")
        found[f"{engine}/int8"] = functools.partial(int8_runner, target, engine=engine)
    return found


def one_model(name: str, quick: bool, log) -> dict:
    import numpy as np

    from zoo.contract import input_channels
    from zoo.export import engines
    from zoo.export.losses import held_out_pairs, mean_psnr
    from zoo.export.precision import choose
    from zoo.factory import create_model

    model = create_model(name)
    channels = input_channels(model)
    data, pairs = held_out_pairs(channels, 24 if quick else None)
    with tempfile.TemporaryDirectory(prefix="zoo-precision-") as folder:
        builders = paths(model, channels, Path(folder), quick, log)
        runners = {key: build() for key, build in builders.items()}
        log(f"{name}: scoring {len(runners)} paths on {len(pairs)} blocks of {data}")
        psnr = {key: mean_psnr(runner, pairs) for key, runner in runners.items()}
        auto = choose(model, remeasure=True, log=log)
        auto_key = f"{auto.engine}/{auto.precision}"
        log(f"{name}: auto picked {auto_key}: {auto.precision_reason}")
        timed = dict(runners)
        timed["auto"] = auto.runner
        log(f"{name}: timing every path at 256x256")
        runs = engines.measure(timed, channels, rounds=7, block=5, budget=30.0)
        del runners, timed
    milliseconds = {key: median(values) for key, values in runs.items()}
    base = psnr["torch/float32"]
    return {"model": name, "set": data, "blocks": len(pairs), "float32_psnr": base, "auto": auto_key,
            "auto_reason": auto.precision_reason, "rows": {key: {"ms": milliseconds[key], "loss_db": base - psnr[key],
                                                                "spread": float(np.subtract(*np.percentile(runs[key], [75, 25]))
                                                                                / milliseconds[key])}
                                                           for key in psnr},
            "auto_ms": milliseconds["auto"]}


def ratios(result: dict, bound: float = 0.05) -> dict:
    rows = result["rows"]

    def fastest(keys):
        keys = [k for k in keys if k in rows]
        return min(keys, key=lambda k: rows[k]["ms"]) if keys else None

    bf16 = fastest([k for k in rows if k.endswith("bfloat16")])
    int8 = fastest([k for k in rows if k.endswith("int8")])
    int8_within = fastest([k for k in rows if k.endswith("int8") and rows[k]["loss_db"] <= bound])
    within = fastest([k for k in rows if rows[k]["loss_db"] <= bound])
    return {"fastest_bf16": bf16, "fastest_int8": int8, "fastest_int8_within": int8_within, "fastest_within": within,
            "int8_over_bf16": rows[bf16]["ms"] / rows[int8]["ms"] if bf16 and int8 else None,
            "int8_within_over_bf16": rows[bf16]["ms"] / rows[int8_within]["ms"] if bf16 and int8_within else None,
            "auto_over_fastest_within": rows[within]["ms"] / result["auto_ms"] if within else None}


def report(results: list[dict], header: str) -> str:
    lines = [header, ""]
    for result in results:
        r = ratios(result)
        lines += [f"## {result['model']}", "",
                  f"held-out set: {result['set']} ({result['blocks']} blocks), float32 {result['float32_psnr']:.3f} dB; "
                  f"auto picked **{result['auto']}** ({result['auto_reason']})", "",
                  "| path | ms per 256x256 | spread | loss vs float32 (dB) | within 0.05 dB |",
                  "| --- | ---: | ---: | ---: | --- |"]
        for key, row in sorted(result["rows"].items(), key=lambda kv: kv[1]["ms"]):
            lines.append(f"| {key} | {row['ms']:.1f} | {100 * row['spread']:.0f}% | {row['loss_db']:+.3f} | "
                         f"{'yes' if row['loss_db'] <= 0.05 else 'no'} |")
        lines.append(f"| auto ({result['auto']}) | {result['auto_ms']:.1f} | | | |")

        def fmt(value):
            return "-" if value is None else f"{value:.2f}"

        if noise_aware(result["model"]):
            lines += ["", "- noise-aware: every path runs the whole network, its noise map (estimated from each block, "
                      "strength 1) built beside it in zoo.denoise, so the times and losses include the map"]
        lines += ["", f"- INT8 (fastest, {r['fastest_int8']}) against the fastest bfloat16 ({r['fastest_bf16']}): "
                  f"{fmt(r['int8_over_bf16'])}x (target 1.5x at most 0.05 dB below float32; the fastest INT8 within "
                  f"the bound: {r['fastest_int8_within'] or 'none'}, {fmt(r['int8_within_over_bf16'])}x)",
                  f"- auto against the fastest path within 0.05 dB ({r['fastest_within']}): "
                  f"{fmt(r['auto_over_fastest_within'])} (target at least 0.95)", ""]
    return "\n".join(lines)


def noise_aware(name: str) -> bool:
    from zoo.contract import noise_channels
    from zoo.factory import create_model

    return noise_channels(create_model(name)) > 0


def write_cards(results: list[dict]) -> None:
    """The bfloat16 losses measured on the whole held-out set onto the shipped models' cards."""
    import zoo
    from zoo.checkpoint import read_card

    for result in results:
        if result["blocks"] < 120:
            raise SystemExit("--card needs the whole held-out set: leave out --quick")
        model = zoo.create_model(result["model"])
        path = Path(model.zoo_weights)
        card = read_card(path) or {}
        card["precision"] = {"set": result["set"], "blocks": result["blocks"],
                             "float32_psnr": round(result["float32_psnr"], 4),
                             "loss_db": {"bfloat16": {key.split("/")[0]: round(row["loss_db"], 4)
                                                      for key, row in result["rows"].items() if key.endswith("bfloat16")}},
                             "measured_by": "benchmarks/precision.py"}
        zoo.save(zoo.load(path), ROOT / "plugins" / "weights" / path.name, card=card)
        print(f"card of {result['model']}: {card['precision']}", file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--out", help="write the report (markdown) here too")
    parser.add_argument("--card", action="store_true", help="write the bfloat16 losses onto the shipped cards")
    parser.add_argument("--quick", action="store_true", help="24 held-out blocks and 8 validation blocks: a smoke run")
    parser.add_argument("--threads", type=int, help="CPU threads of every engine (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)  # every engine takes torch's count
    warnings.simplefilter("ignore")
    os.environ.setdefault("ZOO_CACHE_DIR", tempfile.mkdtemp(prefix="zoo-precision-cache-"))  # auto measures afresh

    def log(message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    header = f"# Precision: speed and loss against float32 (issue 25)\n\n{machine()}; " \
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; `python benchmarks/precision.py`"
    results = [one_model(name, args.quick, log) for name in args.models.split(",")]
    text = report(results, header + f"; load average {os.getloadavg()[0]:.1f} at the end")
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    if args.card:
        write_cards(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
