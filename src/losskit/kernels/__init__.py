"""Fused fast paths (torch.autograd.Function) behind the functional signatures.

- ``elementwise``: mse, mae, huber, smooth_l1, log_cosh, binary_cross_entropy and
  sigmoid_focal in one native sweep that writes the loss and, when autograd needs it,
  the gradient.
- ``softmax_xent``: cross entropy / softmax focal per row block, gradient made in forward.
- ``linear_xent``: linear + cross entropy in token blocks, never the full logits.
- ``contrastive``, ``triplet``: the metric-learning blocks.

The native code (``_native.c``) is plain C + OpenMP, built with the system compiler on
first use and cached (``_native``); without a compiler every caller runs its plain torch
definition, which ``tests/test_kernels.py`` checks the fast paths against.
"""
