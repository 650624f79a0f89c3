"""Do raw editors render zoo's DNG with the colours of zoo's own development? (issue 24)

A synthetic scene (24 colour and grey patches on a smooth ramp, linear RGB) is mosaicked RGGB
into a 12-bit mosaic in a 16-bit PNG (black 64, white 4095, light noise); ``zoo denoise
--mosaic RGGB --black-level 64 --white-level 4095`` writes it as a DNG. zoo's own JPEG is
``zoo denoise`` of that DNG to ``.jpg`` (LibRaw's development, as for any camera raw). Each
editor found here (dcraw, RawTherapee's rawtherapee-cli, darktable's darktable-cli) develops the
same DNG with its defaults; the mean CIEDE2000 (skimage.color.deltaE_ciede2000, D65 Lab) between
its rendering and zoo's JPEG is reported twice:

- **as rendered**: the editors' own tone curves, exposure and gamut choices included;
- **after a per-channel linear fit** (each sRGB channel of the editor's rendering mapped to
  zoo's by least squares, a*x + b): what is left once brightness and contrast are taken out,
  i.e. the difference in hue and saturation that a wrong or missing colour matrix makes.

Sizes are aligned by a centre crop to the smaller (editors differ by a few border pixels).

    python benchmarks/dng_colour.py [--out benchmarks/results/dng-colour.md]
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from skimage.color import deltaE_ciede2000, rgb2lab

from zoo.machine import cpu_name

ROOT = Path(__file__).resolve().parent.parent
ZOO = [str(ROOT / ".venv" / "bin" / "zoo")] if (ROOT / ".venv" / "bin" / "zoo").exists() else [sys.executable, "-m", "zoo"]
MODEL = "mwrcanet-demo"
BLACK, WHITE = 64, 4095


def scene(height: int = 384, width: int = 576, seed: int = 0) -> np.ndarray:
    """Linear RGB in [0, 1]: a 4x6 grid of colour and grey patches over a horizontal ramp."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0.05, 0.6, width)[None, :, None] * np.ones((height, 1, 3))
    colours = np.array([[0.4, 0.1, 0.05], [0.1, 0.35, 0.1], [0.05, 0.1, 0.45], [0.5, 0.45, 0.05], [0.45, 0.1, 0.4],
                        [0.05, 0.4, 0.45], [0.6, 0.3, 0.1], [0.2, 0.15, 0.5], [0.5, 0.15, 0.2], [0.15, 0.1, 0.2],
                        [0.35, 0.5, 0.1], [0.6, 0.4, 0.05], [0.1, 0.1, 0.3], [0.15, 0.3, 0.1], [0.4, 0.05, 0.05],
                        [0.7, 0.6, 0.05], [0.5, 0.1, 0.3], [0.05, 0.25, 0.4], [0.8, 0.8, 0.8], [0.5, 0.5, 0.5],
                        [0.3, 0.3, 0.3], [0.18, 0.18, 0.18], [0.08, 0.08, 0.08], [0.03, 0.03, 0.03]])
    image = ramp.copy()
    ph, pw = height // 5, width // 7
    for i, colour in enumerate(colours):
        r, c = divmod(i, 6)
        y, x = ph // 2 + r * (ph + ph // 8), pw // 2 + c * (pw + pw // 10)
        image[y:y + ph, x:x + pw] = colour
    return np.clip(image + rng.normal(0, 0.002, image.shape), 0, 1)


def mosaic_png(rgb: np.ndarray, path: Path, seed: int = 1) -> None:
    """RGGB mosaic of ``rgb``, in 12-bit units with a black level, shot-and-read noise, 16-bit PNG."""
    height, width = rgb.shape[:2]
    plane = np.empty((height, width))
    plane[0::2, 0::2] = rgb[0::2, 0::2, 0]
    plane[0::2, 1::2] = rgb[0::2, 1::2, 1]
    plane[1::2, 0::2] = rgb[1::2, 0::2, 1]
    plane[1::2, 1::2] = rgb[1::2, 1::2, 2]
    rng = np.random.default_rng(seed)
    noisy = plane + rng.normal(0, 1, plane.shape) * np.sqrt(0.0004 * plane + 0.00001)
    stored = np.clip(np.round(BLACK + noisy * (WHITE - BLACK)), 0, WHITE).astype(np.uint16)
    Image.fromarray(stored).save(path)


def run(command: list[str], log: list[str], **kwargs) -> subprocess.CompletedProcess:
    log.append(" ".join(shlex.quote(part) for part in command))
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, **kwargs)
    if done.returncode:
        raise RuntimeError(f"{command[0]} failed ({done.returncode}): {(done.stderr or done.stdout).strip()[-400:]}")
    return done


def read_rgb(path: Path) -> np.ndarray:
    """An 8- or 16-bit RGB file as float sRGB in [0, 1]."""
    import tifffile

    data = tifffile.imread(path) if path.suffix.lower() in (".tif", ".tiff") else np.asarray(Image.open(path))
    data = np.asarray(data)
    if data.ndim == 3 and data.shape[0] in (3, 4) and data.shape[-1] not in (3, 4):
        data = np.moveaxis(data, 0, -1)
    scale = 65535.0 if data.dtype == np.uint16 else 255.0 if data.dtype == np.uint8 else 1.0
    return (data[..., :3].astype(np.float64) / scale).clip(0, 1)


def crop_to(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h, w = min(a.shape[0], b.shape[0]), min(a.shape[1], b.shape[1])

    def centre(x: np.ndarray) -> np.ndarray:
        top, left = (x.shape[0] - h) // 2, (x.shape[1] - w) // 2
        return x[top:top + h, left:left + w]

    return centre(a), centre(b)


def linear_fit(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    fitted = np.empty_like(source)
    for c in range(3):
        x, y = source[..., c].ravel(), target[..., c].ravel()
        a, b = np.polyfit(x, y, 1)
        fitted[..., c] = a * source[..., c] + b
    return fitted.clip(0, 1)


def delta_e(a: np.ndarray, b: np.ndarray) -> float:
    border = 8  # demosaicking edges
    a, b = a[border:-border, border:-border], b[border:-border, border:-border]
    return float(deltaE_ciede2000(rgb2lab(a), rgb2lab(b)).mean())


def editors(dng: Path, folder: Path, log: list[str]) -> dict[str, Path | str]:
    """Each editor's rendering of ``dng`` (a path), or why there is none (a string)."""
    found: dict[str, Path | str] = {}
    if shutil.which("dcraw"):
        run(["dcraw", "-w", "-T", str(dng)], log)  # camera white balance, sRGB, 8-bit TIFF beside the DNG
        found["dcraw"] = dng.with_suffix(".tiff")
    else:
        found["dcraw"] = "not installed"
    if shutil.which("rawtherapee-cli"):
        out = folder / "rawtherapee.tif"
        run(["rawtherapee-cli", "-q", "-Y", "-t", "-d", "-o", str(out), "-c", str(dng)], log,
            env={**os.environ, "HOME": str(folder)})
        found["RawTherapee"] = out
    else:
        found["RawTherapee"] = "not installed"
    if shutil.which("darktable-cli"):
        out = folder / "darktable.tif"
        run(["darktable-cli", str(dng), str(out), "--core", "--configdir", str(folder / "darktable-config"),
             "--library", ":memory:"], log, env={**os.environ, "HOME": str(folder)})
        found["darktable"] = out
    else:
        found["darktable"] = "not installed"
    return found





def version(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        text = (done.stdout + done.stderr).strip().splitlines()
        return next((line.strip() for line in text if any(ch.isdigit() for ch in line)), "?")
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "dng-colour.md")
    args = parser.parse_args()
    log: list[str] = []
    with tempfile.TemporaryDirectory(prefix="zoo-dng-colour-") as name:
        folder = Path(name)
        mosaic = folder / "scene.png"
        mosaic_png(scene(), mosaic)
        dng, jpeg = folder / "scene.dng", folder / "zoo.jpg"
        run([*ZOO, "denoise", MODEL, str(mosaic), "--mosaic", "RGGB", "--black-level", str(BLACK),
             "--white-level", str(WHITE), "-o", str(dng), "--engine", "torch"], log)
        run([*ZOO, "denoise", MODEL, str(dng), "-o", str(jpeg), "--engine", "torch"], log)
        reference = read_rgb(jpeg)
        rows = []
        for editor, rendering in editors(dng, folder, log).items():
            if isinstance(rendering, str):
                rows.append(f"| {editor} | - | - | - | {rendering} |")
                continue
            theirs = read_rgb(rendering)
            ours, theirs = crop_to(reference, theirs)
            rows.append(f"| {editor} | {theirs.shape[1]}x{theirs.shape[0]} | {delta_e(theirs, ours):.2f} | "
                        f"{delta_e(linear_fit(theirs, ours), ours):.2f} | |")
            print(rows[-1])
        exif = subprocess.run(["exiftool", "-s", "-ColorMatrix1", "-ProfileName", "-AsShotNeutral", str(dng)],
                              capture_output=True, text=True).stdout.strip() if shutil.which("exiftool") else ""
    versions = {"dcraw": version(["dcraw"]), "RawTherapee": version(["rawtherapee-cli", "-v"]),
                "darktable": version(["darktable-cli", "--version"])}
    lines = [
        "# DNG colour: raw editors against zoo's own development (issue 24)", "",
        f"{cpu_name()}; {time.strftime('%Y-%m-%d %H:%M')}; `python benchmarks/dng_colour.py`", "",
        "A synthetic 576x384 scene (24 colour and grey patches over a ramp), mosaicked RGGB in 12 bits (black 64, "
        "white 4095) into a 16-bit PNG, written as a DNG by `zoo denoise --mosaic`; zoo's JPEG is `zoo denoise` of "
        "that DNG to .jpg (LibRaw). Mean CIEDE2000 over the image (8-pixel border left out) between each editor's "
        "default rendering and zoo's JPEG: **as rendered** (the editor's own tone curve and exposure included) and "
        "**after a per-channel linear fit** of the editor's sRGB to zoo's (brightness and contrast taken out: what "
        "is left is hue and saturation, where a missing colour matrix shows). Under 2 is hard to see; "
        "10 and more is another picture.", "",
        "| editor | size | mean ΔE2000 as rendered | mean ΔE2000 after linear fit | note |",
        "| --- | --- | ---: | ---: | --- |", *rows, "",
        "Versions: " + "; ".join(f"{k} {v}" for k, v in versions.items()), "",
        "The DNG's colour tags (exiftool):", "", "```", exif or "(exiftool not installed)", "```", "",
        "Commands (`<tmp>`: the run's temporary folder):", "", "```", *(line.replace(str(folder), "<tmp>") for line in log),
        "```", "",
    ]
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
