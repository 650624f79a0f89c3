"""Camera raw files out of ``zoo denoise``: DNG writing, LibRaw development, CFA phase.

- :mod:`zoo.raw.phase`: bring any Bayer pattern to the models' RGGB phase and back, losslessly.
- :mod:`zoo.raw.meta`: what LibRaw (and a DNG's own tags) say about a raw file's mosaic.
- :mod:`zoo.raw.dng`: write a denoised mosaic as a DNG in the input's raw units (tifffile).
- :mod:`zoo.raw.develop`: develop a mosaic with LibRaw, as the camera's file would be.

Reading raw files needs rawpy (``pip install rawpy``); phase handling needs nothing extra.
"""

from zoo.raw.phase import MODEL_PATTERN, check_bayer, from_phase, phase_offset, to_phase

__all__ = ["MODEL_PATTERN", "check_bayer", "from_phase", "phase_offset", "to_phase"]
