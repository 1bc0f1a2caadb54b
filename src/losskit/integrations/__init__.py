"""Integrations with training frameworks (each needs its own optional dependency).

* :mod:`losskit.integrations.lightning`: ``LossMonitorCallback`` for PyTorch Lightning
  (``pip install 'losskit[lightning]'``).
"""
