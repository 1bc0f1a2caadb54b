"""Bundled example data sets (see losskit.io.EXAMPLES)."""
