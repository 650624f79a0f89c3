"""Every CPU engine side by side, OpenVINO's options, tiling through OpenVINO and its bfloat16
cost, in one run (issue 19). Writes results/engines-<machine>.json and a Markdown table beside it.

    python benchmarks/engines.py                  # everything: about 25 minutes on 2 quiet cores
    python benchmarks/engines.py --quick --out /tmp/engines   # a smoke run of every part: small sizes, 1 repeat

Parts (``--parts``, default all):
- ``engines``: full-size mwrcanet at 256x256 and the shipped demo models, every engine in float32
  and bfloat16, interleaved, each beside the conv peak of its precision; and what ``--engine auto``
  picks, measured afresh. Targets: auto's pick reaches 0.97 of the float32 peak and 0.95 of the
  bfloat16 peak (full-size mwrcanet) and is at least 1.0x every other engine of its precision.
- ``options``: OpenVINO's Winograd, throughput streams and static shapes (engines_openvino.py).
- ``tiling``: a 6000x4000 mosaic in 1024 tiles through OpenVINO, in a process of its own
  (engines_tiling.py). Targets: peak memory under 3 GiB; tiled throughput at least 0.85 of an
  untiled 1024x1024 pass.
- ``accuracy``: the shipped raw model on its held-out set (crossdomain-raw) through OpenVINO in
  float32 and bfloat16. Target: bfloat16 costs at most 0.05 dB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

import zoo
from zoo.export import cached_export
from zoo.export.engines import choose_engine
from zoo.export.openvino import cpu_capabilities, require_openvino
from zoo.fileio import atomic_path
from zoo.machine import machine_info, version

import engines_openvino
from common import RESULTS, machine_slug, write_json
from engines_table import format_rows, plan, side_by_side

PARTS = ("engines", "options", "tiling", "accuracy")
TINY = {"widths": (8, 16, 16), "depth": 1}  # --quick: a full-size architecture at toy width


class Record:
    """The targets checked in this run, printed as they come."""

    def __init__(self) -> None:
        self.targets: list[dict[str, Any]] = []

    def check(self, name: str, value: float | None, limit: float, higher_is_better: bool, detail: str) -> None:
        ok = value is not None and (value >= limit if higher_is_better else value <= limit)
        self.targets.append({"target": name, "value": value, "limit": limit, "ok": ok, "detail": detail})
        shown = "-" if value is None else f"{value:.4g}"
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {shown} ({'>=' if higher_is_better else '<='} {limit})  {detail}", flush=True)


def bf16_here() -> bool:
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported()) and "BF16" in cpu_capabilities()


def engines_part(args, record: Record) -> dict[str, Any]:
    models = [("mwrcanet", TINY if args.quick else {}), ("mwrcanet-demo", {}), ("mwresnet-demo", {})]
    precisions = ["float32", "bfloat16"] if bf16_here() else ["float32"]
    size = 64 if args.quick else args.size
    tables = {}
    for name, config in models:
        model = zoo.create_model(name, **config)
        print(f"\n== {name} {size}x{size}", flush=True)
        table = side_by_side(model, plan("bfloat16" in precisions, compile=not args.no_compile), size, args.runs)
        table["auto"] = {}
        for precision in precisions:
            choice = choose_engine(model, dtype=precision, device="cpu", remeasure=True)
            table["auto"][precision] = {"engine": choice.engine, "reason": choice.reason, "probe_ms": choice.milliseconds}
            print(f"auto  {precision}: {choice.engine} ({choice.reason})", flush=True)
            check_auto(record, name, table, precision, choice.engine, full=name == "mwrcanet")
        tables[name] = table
        for line in format_rows(table["engines"]):
            print(line)
    return tables


def check_auto(record: Record, name: str, table: dict[str, Any], precision: str, engine: str, full: bool) -> None:
    """The row auto's pick runs as, against the conv peak (full-size model) and every other engine."""
    rows = [r for r in table["engines"] if r["precision"] == precision]
    picked = [r for r in rows if r["zoo_engine"] == engine and "eager" not in r["engine"] and "compile" not in r["engine"]]
    if not picked:
        record.check(f"{name} {precision}: auto's pick ({engine}) measured", None, 1, True, "its row is missing")
        return
    pick = picked[0]
    if full:
        limit = 0.97 if precision == "float32" else 0.95
        record.check(f"{name} {precision}: auto's pick ({pick['engine']}) fraction of the conv peak",
                     pick["fraction_of_peak"], limit, True, f"{pick['gflops']:.0f} GFLOP/s, {pick['median_ms']:.1f} ms")
    others = [r for r in rows if r is not pick]
    if others:
        slowest_margin = min(r["median_ms"] / pick["median_ms"] for r in others)
        closest = min(others, key=lambda r: r["median_ms"])
        record.check(f"{name} {precision}: auto's pick ({pick['engine']}) speed / every other engine",
                     round(slowest_margin, 4), 1.0, True,
                     f"closest: {closest['engine']} {closest['median_ms']:.1f} ms vs {pick['median_ms']:.1f} ms")


def options_part(args) -> dict[str, Any]:
    model = zoo.create_model("mwrcanet", **(TINY if args.quick else {}))
    precisions = ["float32", "bfloat16"] if bf16_here() else ["float32"]
    size, runs = (64, 1) if args.quick else (args.size, args.runs)
    sizes = [64, 128] if args.quick else [256, 512]
    result: dict[str, Any] = {"winograd": [], "streams": [], "static_shapes": []}
    for precision in precisions:
        print(f"\n== OpenVINO options, {precision}", flush=True)
        result["winograd"].append(engines_openvino.winograd(model, precision, size, runs))
        print("winograd ", json.dumps(result["winograd"][-1]), flush=True)
        for batch in (2, 4):
            result["streams"].append(engines_openvino.streams(model, precision, size, batch, max(1, runs // 2)))
            print("streams  ", json.dumps(result["streams"][-1]), flush=True)
        result["static_shapes"].append(engines_openvino.static_shapes(model, precision, sizes, runs))
        print("static   ", json.dumps(result["static_shapes"][-1]), flush=True)
    return result


def tiling_part(args, record: Record) -> list[dict[str, Any]]:
    config = TINY if args.quick else {}
    cached_export(zoo.create_model("mwrcanet", **config))  # here, so the child's peak is inference alone
    results = []
    precisions = ["float32", "bfloat16"] if bf16_here() else ["float32"]
    for precision in precisions:
        settings = {"model": "mwrcanet", "config": config, "engine": "openvino", "dtype": precision,
                    "threads": torch.get_num_threads()}
        if args.quick:
            settings.update(height=400, width=600, tile=128, untiled=128)
        print(f"\n== tiled {settings.get('height', 4000)}x{settings.get('width', 6000)} through OpenVINO, {precision}", flush=True)
        child = subprocess.run([sys.executable, str(Path(__file__).with_name("engines_tiling.py")), json.dumps(settings)],
                               capture_output=True, text=True, env=os.environ)
        if child.returncode != 0:
            raise SystemExit(f"engines_tiling.py failed:\n{child.stderr[-2000:]}")
        result = json.loads(child.stdout.strip().splitlines()[-1])
        results.append(result)
        print(json.dumps(result), flush=True)
        record.check(f"tiled {result['height']}x{result['width']} {precision}: peak memory GiB", result["peak_rss_gib"], 3.0, False,
                     f"tile {result['tile']}, {result['tiled_seconds']:.0f} s on {result['device']}")
        record.check(f"tiled {precision}: throughput / untiled {result['untiled']}x{result['untiled']}",
                     result["tiled_over_untiled_throughput"], 0.85, True,
                     f"{result['tiled_megapixels_per_s']:.4f} vs {result['untiled_megapixels_per_s']:.4f} MP/s")
    return results


def accuracy_part(args, record: Record) -> dict[str, Any]:
    from zoo.evaluation import evaluate, load_data, network_denoiser
    from zoo.export.engines import make_runner

    pairs = load_data("crossdomain-raw")[: 2 if args.quick else None]
    result: dict[str, Any] = {"data": "crossdomain-raw", "images": len(pairs), "psnr": {}}
    for name in ("mwrcanet-demo", "mwresnet-demo"):
        model = zoo.create_model(name)
        scores = {}
        for engine in ("torch", "openvino"):
            for precision in ["float32", "bfloat16"] if bf16_here() else ["float32"]:
                runner = make_runner(engine, model, dtype=precision, device="cpu")
                report = evaluate(network_denoiser(runner), pairs, model=name, data="crossdomain-raw", progress=False)
                scores[f"{engine} {precision}"] = round(report.summary()["psnr"], 4)
        result["psnr"][name] = scores
        print(f"{name}: {scores}", flush=True)
        if "openvino bfloat16" in scores:
            cost = round(scores["openvino float32"] - scores["openvino bfloat16"], 4)
            if name == "mwrcanet-demo":  # the shipped raw model the target names
                record.check(f"{name}: PSNR cost of bfloat16 through OpenVINO (dB)", cost, 0.05, False,
                             f"{scores['openvino float32']:.3f} vs {scores['openvino bfloat16']:.3f} dB on {len(pairs)} blocks")
    return result


def markdown(data: dict[str, Any]) -> str:
    lines = [f"# CPU engines on {data['machine']['cpu']}, {data['machine']['threads']} threads",
             "", f"torch {data['machine']['torch']}, OpenVINO {str(data['versions'].get('openvino')).split('-')[0]}, "
             f"onnxruntime {data['versions'].get('onnxruntime')}; {data['when']}; `{data['command']}`", ""]
    for name, table in data.get("engines", {}).items():
        lines += [f"## {name}, {'x'.join(map(str, table['input'][-2:]))}, {table['runs']} interleaved runs", ""]
        lines += format_rows(table["engines"])
        auto = ", ".join(f"{p}: {a['engine']}" for p, a in table.get("auto", {}).items())
        lines += ["", f"`--engine auto` picks {auto}."] + [f"skipped {k}: {v}" for k, v in table.get("skipped", {}).items()] + [""]
    if data.get("targets"):
        lines += ["## Targets", "", "| target | value | limit | ok |", "| --- | ---: | ---: | --- |"]
        for t in data["targets"]:
            lines.append(f"| {t['target']} | {t['value']} | {t['limit']} | {'PASS' if t['ok'] else 'FAIL'} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, from {', '.join(PARTS)}")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for every engine (default 2, as issue 19)")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--runs", type=int, default=9, help="interleaved timed runs per engine (default 9)")
    parser.add_argument("--no-compile", action="store_true", help="leave out torch.compile (a minute to compile)")
    parser.add_argument("--quick", action="store_true", help="smoke run: toy widths, small sizes, 1 run")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for the JSON and Markdown (default: results/)")
    args = parser.parse_args()
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown part(s) {', '.join(unknown)}")
    if args.quick:
        args.runs = 1
        os.environ.setdefault("ZOO_CACHE_DIR", tempfile.mkdtemp(prefix="zoo-engines-quick-"))
    torch.set_num_threads(args.threads)
    ov = require_openvino()
    record = Record()
    data: dict[str, Any] = {
        "machine": machine_info(torch.device("cpu")), "when": time.strftime("%Y-%m-%d %H:%M"),
        "command": " ".join(["python", *sys.argv]), "quick": args.quick,
        "versions": {"openvino": ov.__version__, "onnxruntime": version("onnxruntime") or version("onnxruntime-gpu"),
                     "zoo": zoo.__version__},
        "openvino_cpu_capabilities": list(cpu_capabilities()),
    }
    if "engines" in parts:
        data["engines"] = engines_part(args, record)
    if "options" in parts:
        data["openvino_options"] = options_part(args)
    if "tiling" in parts:
        data["tiling"] = tiling_part(args, record)
    if "accuracy" in parts:
        data["accuracy"] = accuracy_part(args, record)
    data["targets"] = record.targets
    stem = f"engines{'-quick' if args.quick else ''}-{machine_slug()}"
    path = write_json(data, args.out / f"{stem}.json")
    with atomic_path(args.out / f"{stem}.md") as tmp:
        tmp.write_text(markdown(data))
    failed = [t["target"] for t in record.targets if not t["ok"]]
    print(f"\nwrote {path} and {stem}.md; {'all targets met' if not failed else f'{len(failed)} missed'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
