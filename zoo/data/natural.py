"""Real photographs and graphics that ship inside installed packages, and their split by image.

Every image named here loads with no network: scikit-image's ``data`` folder (only the files
it ships, never the ones it would download), scikit-learn's two sample photographs, PyWavelets'
three test images and matplotlib's ``grace_hopper.jpg`` (nothing else of matplotlib's sample
data). Each image belongs to exactly one split, fixed here and checked by the tests:

- ``train``: what training draws patches from;
- ``validation``: for choosing checkpoints during a run (the ``crossval-*`` sets);
- ``test``: held out, never trained or tuned on (``synthraw``, ``crossdomain-*``). Lossless files
  only, so that the test sets are the same bytes on every machine (a JPEG decodes differently
  across libjpeg versions).

Images smaller than a training patch (``TOO_SMALL``) are listed with the reason they are unused.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from zoo.errors import ZooError
from zoo.install import pip_hint

SPLITS = ("train", "validation", "test")
# Import names of the packages that ship the built-in images, and the packages to install.
_PACKAGES = {"skimage": "scikit-image", "sklearn": "scikit-learn", "pywt": "PyWavelets"}

# name -> (split, what it shows). Names are "package:file"; packages: skimage, sklearn, pywt,
# matplotlib. Grey images are read as RGB (unprocessing then gives them a random camera colour).
CATALOGUE: dict[str, tuple[str, str]] = {
    # --- test: held out, lossless ---------------------------------------------------------------
    "skimage:astronaut.png": ("test", "portrait, natural"),
    "skimage:coffee.png": ("test", "still life, natural"),
    "skimage:chelsea.png": ("test", "cat, natural"),
    "pywt:aero": ("test", "aerial photograph, grey"),
    "skimage:logo.png": ("test", "graphics on a white page, large highlights"),
    "skimage:page.png": ("test", "printed text, grey"),
    "skimage:color.png": ("test", "colour-wheel graphics on black"),
    # --- validation ---------------------------------------------------------------------------
    "skimage:ihc.png": ("validation", "microscopy, natural"),
    "sklearn:flower.jpg": ("validation", "flower, natural"),
    "skimage:text.png": ("validation", "handwriting on paper, grey"),
    "skimage:horse.png": ("validation", "black silhouette on white, graphics"),
    # --- train --------------------------------------------------------------------------------
    "skimage:motorcycle_left.png": ("train", "motorcycle, natural"),
    "skimage:motorcycle_right.png": ("train", "motorcycle, natural"),
    "skimage:rocket.jpg": ("train", "rocket launch, natural"),
    "skimage:retina.jpg": ("train", "retina, natural"),
    "skimage:hubble_deep_field.jpg": ("train", "galaxies on black, low light"),
    "matplotlib:grace_hopper.jpg": ("train", "portrait, natural"),
    "sklearn:china.jpg": ("train", "temple, natural"),
    "skimage:brick.png": ("train", "brick texture, grey"),
    "skimage:grass.png": ("train", "grass texture, grey"),
    "skimage:gravel.png": ("train", "gravel texture, grey"),
    "skimage:camera.png": ("train", "cameraman, grey"),
    "pywt:camera": ("train", "cameraman, grey (PyWavelets' copy, cropped differently)"),
    "pywt:ascent": ("train", "staircase, grey"),
    "skimage:moon.png": ("train", "moon surface, grey"),
    "skimage:coins.png": ("train", "coins, grey"),
    "skimage:cell.png": ("train", "cell microscopy, grey"),
    "skimage:clock_motion.png": ("train", "motion-blurred clock, grey"),
    "skimage:microaneurysms.png": ("train", "retina detail, grey"),
    "skimage:phantom.png": ("train", "Shepp-Logan phantom, graphics"),
    "skimage:chessboard_RGB.png": ("train", "chessboard, graphics"),
}

# Shipped but unused: no training patch or test block fits in them.
TOO_SMALL: dict[str, str] = {
    "skimage:chessboard_GRAY.png": "the grey copy of chessboard_RGB.png",
    "skimage:multipage.tif": "15x10 pixels",
    "skimage:multipage_rgb.tif": "10x10 pixels",
    "skimage:no_time_for_that_tiny.gif": "25x14 pixels",
    "skimage:lfw_subset.npy": "25x25-pixel faces",
}


def split(name: str) -> tuple[str, ...]:
    """The image names of one split (``train``, ``validation`` or ``test``), in catalogue order."""
    if name not in SPLITS:
        raise ZooError(f"unknown split '{name}'; choose from {', '.join(SPLITS)}")
    return tuple(image for image, (where, _) in CATALOGUE.items() if where == name)


def image_path(name: str) -> Path:
    """The file behind a built-in image name ``package:file``, inside the installed package."""
    package, _, file = name.partition(":")
    if package == "skimage":
        import skimage.data

        return Path(skimage.data.__file__).parent / file
    if package == "matplotlib":
        import matplotlib

        return Path(matplotlib.get_data_path()) / "sample_data" / file
    if package == "sklearn":
        import sklearn

        return Path(sklearn.__file__).parent / "datasets" / "images" / file
    if package == "pywt":
        import pywt

        return Path(pywt.__file__).parent / "data" / f"{file}.npz"
    raise ZooError(f"unknown built-in image '{name}'")


def load_srgb(name: str) -> np.ndarray:
    """A built-in image as float64 RGB ``(H, W, 3)`` in [0, 1] (grey images as three equal planes;
    an alpha channel is composited over white, as a viewer shows it)."""
    try:
        path = image_path(name)
    except ImportError as exc:
        missing = exc.name or name.partition(":")[0]  # an ImportError may name no module: the image's package
        package = _PACKAGES.get(missing, missing)  # an import name is not always the package's
        raise ZooError(f"built-in image {name} needs {package}: {pip_hint(package)}") from None
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as stored:
            grey = stored["data"]
        return np.repeat(grey[..., None], 3, axis=-1).astype(np.float64) / 255.0
    image: np.ndarray | None = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ZooError(f"built-in image {name} not found at {path}")
    scale = float(np.iinfo(image.dtype).max)
    image = image.astype(np.float64) / scale
    if image.ndim == 2:
        return np.repeat(image[..., None], 3, axis=-1)
    if image.shape[-1] == 4:
        alpha = image[..., 3:]
        image = image[..., :3] * alpha + (1.0 - alpha)
    return np.ascontiguousarray(image[..., 2::-1])  # OpenCV's BGR -> RGB
