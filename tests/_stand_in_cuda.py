"""A pytest plugin that runs tests/test_cuda.py on the CPU, as a stand-in for a GPU.

tests/test_cuda.py runs only where a GPU is, which CI never has, so a mistake in the test
code itself (not in losskit) would first show on the rare GPU run. With this plugin
(``pytest -p tests._stand_in_cuda tests/test_cuda.py``) the module believes a CUDA device
exists, its ``DEVICE`` is the CPU and its no-sync block is empty: what runs is the tests'
own plumbing (moving each example to the device, comparing with the CPU), not a check of
syncs or of GPU memory (the memory tests call torch.cuda and fail here: deselect them).
"""

from __future__ import annotations

import contextlib

import torch


def pytest_configure(config):
    # Patched here, not at import: the suite's --doctest-modules imports this file too,
    # and a GPU that the whole session believed in would break unrelated tests.
    torch.cuda.is_available = lambda: True
    torch.cuda.device_count = lambda: 1


def pytest_collection_modifyitems(session, config, items):
    from tests import test_cuda

    test_cuda.DEVICE = torch.device("cpu")
    test_cuda.no_syncs = contextlib.nullcontext
