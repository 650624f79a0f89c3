"""`make test`'s install stage: the wheel, installed with no extras into a fresh virtualenv outside
the checkout, runs every command from another folder.

Commands that need nothing optional must work; those that do must end with one line that names
the package to install (`pip install ...`), and no command may print a traceback. Run it with a
Python that has setuptools (the project's .venv): `python tests/wheel_smoke.py`. The virtualenv
lives in a temporary folder, removed at the end (`--keep` keeps it and prints where).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TORCH = "torch==2.13.0"  # as constraints.txt pins it
TINY = '{"widths": [8, 8, 8], "depth": 1}'
TIMEOUT = 600  # seconds for one command

# (arguments, expectation): "ok" exits 0; "hint:PACKAGE" fails in one line naming `pip install PACKAGE`.
SMOKE: list[tuple[list[str], str]] = [
    (["--version"], "ok"),
    (["list"], "ok"),
    (["list", "--blocks", "--json"], "ok"),
    (["info", "mwrcanet-demo"], "ok"),
    # onnxruntime is skipped with a note in a plain install; the run goes on.
    (["bench", "mwrcanet-demo", "--size", "64", "--warmup", "0", "--runs", "1", "--backends", "channels_last,onnxruntime"],
     "ok"),
    (["denoise", "mwrcanet-demo", "mosaic.npy", "-o", "out/"], "ok"),
    (["denoise", "mwrcanet-demo", "mosaic.png", "--mosaic", "GRBG", "-o", "out/"], "ok"),
    (["denoise", "mwrcanet-demo", "shot.dng", "-o", "shot-clean.dng"], "hint:rawpy"),
    (["eval", "wavelet", "--data", "synthraw", "--limit", "1"], "ok"),
    (["eval", "nlmeans", "--data", "synthraw", "--limit", "1"], "ok"),
    (["eval", "mwrcanet-demo", "--data", "synthraw", "--limit", "1"], "ok"),
    (["eval", "bm3d", "--data", "synthraw", "--limit", "1"], "hint:bm3d"),
    (["export", "mwrcanet-demo", "-o", "demo.onnx"], "hint:onnx"),
    (["ort", "model.onnx", "mosaic.npy", "-o", "ort/"], "hint:onnxruntime"),
    (["train", "mwrcanet", "--config", TINY, "--batch", "2", "--patch", "32", "--val", "none", "--steps", "2",
      "--data", "synthraw", "--out", "run"], "ok"),
    (["distill", "--original-config", TINY, "--siamese-config", TINY, "--steps", "1,1,1,1", "--batch", "2",
      "--patch", "32", "--finetune-patch", "64", "--finetune-batch", "1", "--val", "none", "--no-pseudo-ensemble",
      "--out", "distill"], "ok"),
    (["search", "run", "tiny", "--out", "search", "--trials", "1"], "hint:optuna"),
]

# Each command's --help in one process; prints the command names.
HELP_ALL = """
import contextlib, io
from zoo.cli import build_parser
parser = build_parser()
commands = sorted(parser._subparsers._group_actions[0].choices)
for name in commands:
    with contextlib.redirect_stdout(io.StringIO()) as text, contextlib.suppress(SystemExit):
        parser.parse_args([name, "--help"])
    assert "usage: zoo " + name in text.getvalue(), name
print(" ".join(commands))
"""

INPUTS = """
import numpy as np, cv2, tifffile
rng = np.random.default_rng(0)
np.save("mosaic.npy", rng.random((64, 64), dtype=np.float32))
cv2.imwrite("mosaic.png", (rng.random((64, 64)) * 65535).astype(np.uint16))
open("model.onnx", "wb").write(b"not really onnx")
tags = [(33421, "H", 2, (2, 2), True), (33422, "B", 4, bytes((0, 1, 1, 2)), True),
        (50706, "B", 4, bytes((1, 4, 0, 0)), True), (50717, "I", 1, 4095, True)]
tifffile.imwrite("shot.dng", (rng.random((64, 64)) * 4095).astype(np.uint16), photometric=32803,
                 extratags=tags, metadata=None)
"""


def sh(cmd: list[str], **kwargs) -> None:
    """Run ``cmd``; its output (pip's is long) is shown only when it fails."""
    done = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if done.returncode:
        raise SystemExit(f"wheel_smoke: {' '.join(cmd)} failed ({done.returncode}):\n{(done.stdout + done.stderr)[-4000:]}")


def build_wheel(tmp: Path) -> Path:
    """The wheel of a copy of the checkout: setuptools writes its egg-info beside the sources."""
    source = tmp / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "runs", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis"))
    # Without build isolation where setuptools is at hand: no download of a build environment.
    isolation = ["--no-build-isolation"] if _has_setuptools() else []
    sh([sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, "-w", str(tmp / "dist"), str(source)])
    wheels = sorted((tmp / "dist").glob("*.whl"))
    if len(wheels) != 1:
        raise SystemExit(f"wheel_smoke: expected one wheel, found {[w.name for w in wheels]}")
    return wheels[0]


def _has_setuptools() -> bool:
    import importlib.util

    return importlib.util.find_spec("setuptools") is not None


def install(venv: Path, wheel: Path, env: dict[str, str]) -> Path:
    python = venv / "bin" / "python"
    sh([sys.executable, "-m", "venv", str(venv)])
    sh([str(python), "-m", "pip", "install", TORCH], env=env)  # first: nothing may pull another torch
    sh([str(python), "-m", "pip", "install", str(wheel)], env=env)  # no extras
    return python


def check_commands(venv: Path, work: Path, env: dict[str, str]) -> list[str]:
    zoo = str(venv / "bin" / "zoo")
    failures = []
    located = subprocess.run([str(venv / "bin" / "python"), "-c", "import zoo; print(zoo.__file__)"], cwd=work, env=env,
                             capture_output=True, text=True)
    if not located.stdout.startswith(str(venv)):
        failures.append(f"zoo imported from {located.stdout.strip() or located.stderr.strip()}, not the virtualenv")
    # Every command's --help, in one process (each `zoo` start imports torch: seconds).
    helps = subprocess.run([str(venv / "bin" / "python"), "-c", HELP_ALL], cwd=work, env=env, capture_output=True, text=True)
    commands = helps.stdout.split()
    if helps.returncode or not commands:
        failures.append(f"zoo COMMAND --help failed:\n{(helps.stdout + helps.stderr)[-2000:]}")
    print(f"wheel_smoke: --help of {len(commands)} commands: {' '.join(commands)}")
    covered = {args[0] for args, _ in SMOKE}
    for name in sorted(set(commands) - covered):
        print(f"wheel_smoke: note: no smoke run for `zoo {name}`, --help only")
    # Two at a time: the stage's time is mostly torch's import in each new process.
    with ThreadPoolExecutor(max_workers=2) as pool:
        for line, failure in pool.map(lambda run: _smoke(zoo, work, env, *run), SMOKE):
            print(line, flush=True)
            if failure:
                failures.append(failure)
    return failures


def _smoke(zoo: str, work: Path, env: dict[str, str], args: list[str], expect: str) -> tuple[str, str | None]:
    """Run ``zoo ARGS`` in ``work``: its report line, and what went wrong (None when all is well)."""
    start = time.monotonic()
    try:
        done = subprocess.run([zoo, *args], cwd=work, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return f"wheel_smoke: FAIL {time.monotonic() - start:5.1f}s  zoo {' '.join(args)}", \
            f"zoo {' '.join(args)}: still running after {TIMEOUT} s"
    output = done.stdout + done.stderr
    problem = None
    if "Traceback" in output:
        problem = "printed a traceback"
    elif expect == "ok" and done.returncode != 0:
        problem = f"exited {done.returncode}"
    elif expect.startswith("hint:"):
        package = expect.split(":", 1)[1]
        errors = [line for line in done.stderr.splitlines() if line.startswith("zoo: error")]
        if done.returncode == 0 or not any(f"pip install {package}" in line for line in errors):
            problem = f"expected a one-line error naming `pip install {package}`, exit {done.returncode}"
    line = f"wheel_smoke: {'FAIL' if problem else 'ok':4} {time.monotonic() - start:5.1f}s  zoo {' '.join(args)}"
    return line, problem and f"zoo {' '.join(args)}: {problem}\n{output.strip()[-2000:]}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    start = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="zoo-wheel-smoke-"))
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PIP_CONSTRAINT=str(ROOT / "constraints.txt"), PIP_DISABLE_PIP_VERSION_CHECK="1",
               ZOO_CACHE_DIR=str(tmp / "cache"), MPLBACKEND="Agg", PYTHONNOUSERSITE="1")
    try:
        wheel = build_wheel(tmp)
        print(f"wheel_smoke: built {wheel.name}")
        python = install(tmp / "venv", wheel, env)
        work = tmp / "work"
        work.mkdir()
        sh([str(python), "-c", INPUTS], cwd=work, env=env)
        failures = check_commands(tmp / "venv", work, env)
    finally:
        if args.keep:
            print(f"wheel_smoke: kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    for failure in failures:
        print(f"wheel_smoke: FAILED {failure}", file=sys.stderr)
    print(f"wheel_smoke: {len(failures)} failed, {time.monotonic() - start:.0f}s in all")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
