"""Per-step digests of the built-in held-out sets: where a rebuilt set drifted, and which library moved.

The built-in sets (``synthraw``, ``crossdomain-*``, ...) are built on the user's machine from
images that ship inside packages, and their 16-bit bytes are pinned by a checksum: a score on
them compares with every other score only if the bytes are the same. A checksum alone says that
a rebuild differs, not where. So every builder reports each intermediate array to a
:class:`Trace` (the clean content, the camera, the clean mosaic and its development, each noisy
level and its 8-bit or JPEG encoding), and the digests of the reference build are shipped in
``zoo/data/digests/<set>.json`` with the versions of the libraries that built it. A rebuild that
differs is then named by its first differing step, the libraries that compute that step, and
the libraries whose versions differ from the reference build's (:func:`explain`).

Every step is exact on every CPU for given library versions: float64 arithmetic rounded to 16 or
8 bits (a last-bit difference of ``pow`` or ``sin`` between SIMD paths cannot flip a rounding
in practice, and the tests rebuild under a second code path to check it), integer drawing and
an integer JPEG codec. What does change the bytes is a library's new version: OpenCV 5.1 draws
Hershey text differently from 5.0, which moves the procedural graphics block. The set-up pins
those libraries (``constraints.txt``); an install with other versions gets a warning that says
which step and which library.
"""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import Path

import cv2
import numpy as np

#: The libraries that take part in building the sets: their versions are recorded with the digests.
LIBRARIES = ("numpy", "opencv-python-headless", "scikit-image", "scikit-learn", "PyWavelets")

#: Each step a builder traces, and what computes it (named in a drift report).
STEPS = {
    "content": "the clean block: a built-in image (the packages' image files, decoded by OpenCV) "
               "or a procedural image (numpy's generator, OpenCV's drawing)",
    "camera": "the random camera (numpy's generator)",
    "mosaic": "the clean mosaic: unprocessing and exposure (numpy)",
    "developed": "the clean development to sRGB (numpy)",
    "noisy": "the noisy mosaic (numpy's generator)",
    "noisy-developed": "the noisy development to sRGB (numpy)",
    "encoded": "the noisy sRGB input at 8 bits or through OpenCV's JPEG codec",
}
FOLDER = Path(__file__).parent / "digests"
DIGEST_CHARS = 16  # 64 bits per step: enough to tell two arrays apart, short enough to read
# Float steps are hashed at the 16 bits the sets keep, not bit for bit: the last bit of a float64
# ``pow`` may differ between SIMD paths and cannot reach the stored bytes, which a digest of the
# exact bits would report as drift.
FLOAT_STEPS = 65535.0
CAMERA_STEPS = float(1 << 30)  # camera parameters (gains of 1-3, matrix entries): 9 digits


def library_versions() -> dict[str, str | None]:
    """The installed versions of :data:`LIBRARIES` (``None`` for one that is not installed)."""
    versions: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    if versions["opencv-python-headless"] is None:  # another OpenCV wheel provides cv2
        versions["opencv-python-headless"] = f"cv2 {cv2.__version__}"
    return versions


def digest(array: object, steps: float = FLOAT_STEPS) -> str:
    """A short SHA-256 of an array's shape and values; floats rounded to ``1 / steps`` first."""
    value = np.asarray(array)
    if np.issubdtype(value.dtype, np.floating):
        value = np.round(value.astype(np.float64) * steps).astype(np.int64)
    value = np.ascontiguousarray(value)
    hasher = hashlib.sha256(f"{value.dtype.str}{value.shape}".encode())
    hasher.update(value.tobytes())
    return hasher.hexdigest()[:DIGEST_CHARS]


class Trace:
    """The digests of one build, item by item in build order: ``{item: {step: digest}}``."""

    def __init__(self) -> None:
        self.steps: dict[str, dict[str, str]] = {}

    def __call__(self, item: str, step: str, array: object, steps: float = FLOAT_STEPS) -> None:
        if step not in STEPS:
            raise ValueError(f"unknown build step '{step}'; the steps are {', '.join(STEPS)}")
        self.steps.setdefault(item, {})[step] = digest(array, steps)


class _Untraced(Trace):
    """A build nobody watches: no digests computed."""

    def __call__(self, item: str, step: str, array: object, steps: float = FLOAT_STEPS) -> None:
        pass


UNTRACED: Trace = _Untraced()


def pinned_file(set_name: str) -> Path:
    return FOLDER / f"{set_name}.json"


def read_pinned(set_name: str) -> dict | None:
    """The shipped reference digests of a set (``None`` where none ship: a set added later)."""
    path = pinned_file(set_name)
    if not path.is_file():
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def write_pinned(set_name: str, trace: Trace, checksum: str) -> Path:
    """Record ``trace`` as the reference build of ``set_name`` (run by the maintainers, with the
    pinned library versions, when a set's recipe changes)."""
    record = {"set": set_name, "checksum": checksum, "libraries": library_versions(), "steps": trace.steps}
    path = pinned_file(set_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return path


def first_drift(pinned: dict, trace: Trace) -> tuple[str, str] | None:
    """The first ``(item, step)``, in build order, whose digest differs from the reference."""
    reference = pinned["steps"]
    for item, steps in trace.steps.items():
        for step, value in steps.items():
            if reference.get(item, {}).get(step) != value:
                return item, step
    if list(reference) != list(trace.steps):
        missing = next(item for item in reference if item not in trace.steps)
        return missing, next(iter(reference[missing]))
    return None


def moved_libraries(pinned: dict) -> list[str]:
    """``'name X (reference Y)'`` for each library whose version differs from the reference build's."""
    now = library_versions()
    return [f"{name} {now.get(name)} (reference {version})"
            for name, version in pinned["libraries"].items() if now.get(name) != version]


def explain(set_name: str, trace: Trace) -> str:
    """One sentence on why a rebuilt set differs from its reference: the first step that drifted,
    what computes it, and the libraries whose versions moved."""
    pinned = read_pinned(set_name)
    if pinned is None:
        return f"no reference digests ship for {set_name}"
    drift = first_drift(pinned, trace)
    if drift is None:
        return f"every step of {set_name} matches its reference digests"
    item, step = drift
    if item not in pinned["steps"] or item not in trace.steps:
        return (f"block {item} is {'not' if item not in pinned['steps'] else 'no longer'} in the reference build: "
                "the recipe differs from the one its digests were pinned with")
    moved = moved_libraries(pinned)
    why = (f"libraries that differ from the reference build: {', '.join(moved)}" if moved else
           "with the reference build's library versions, so the step depends on the CPU or platform: "
           "please report it")
    return f"step '{step}' of {item} differs first ({STEPS[step]}); {why}"
