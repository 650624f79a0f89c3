"""Data: what zoo evaluates and trains on.

- :mod:`zoo.data.specs`: the one table of data kinds that ``zoo eval`` and ``zoo train`` take.
- Files of yours: :mod:`zoo.data.matfile` (MATLAB v5/v7.3), :mod:`zoo.data.sidd` (SIDD's
  layouts), :mod:`zoo.data.folders` (noisy/clean image folders).
- Built in: :mod:`zoo.data.sets` (``synthraw`` and kin), :mod:`zoo.data.crossdomain`,
  :mod:`zoo.data.synthetic` with :mod:`zoo.data.natural`, :mod:`zoo.data.procedural` and
  :mod:`zoo.data.capture`.
- Pieces: :mod:`zoo.data.pairs`, :mod:`zoo.data.patches` (training patch sources and batches),
  :mod:`zoo.data.unprocess`, :mod:`zoo.data.noise` (the Bayer helpers are a primitive:
  :mod:`zoo.ops.bayer`).
"""
