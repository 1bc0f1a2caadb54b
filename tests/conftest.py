"""Session set-up shared by the test modules.

Without a GPU, Triton kernels can still be checked: Triton's interpreter runs them on CPU
tensors when ``TRITON_INTERPRET=1`` is set before they are defined. Setting it here, before
any test module imports losskit, lets ``tests/test_triton.py`` route CPU tensors through
the Triton accelerators (they take CPU calls only when ``kernels.use("triton")`` forces
them, so every other test runs as before). With a CUDA device the kernels are compiled
for it instead.
"""

from __future__ import annotations

import os

import torch

if "TRITON_INTERPRET" not in os.environ and not torch.cuda.is_available():
    os.environ["TRITON_INTERPRET"] = "1"
