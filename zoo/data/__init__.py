"""Data: SIDD files, Bayer helpers, synthetic raw noise, and the built-in evaluation sets."""
