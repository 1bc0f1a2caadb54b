"""Accelerators: everything faster than a loss's definition, behind one dispatch.

Each module here registers fast paths against the losses they speed up
(:func:`losskit.kernels.register`), declaring the devices, dtypes, options, higher-order
gradients and tensor hyperparameters they support; the definitions in
:mod:`losskit.functional` ask :func:`dispatch` at one point and compute the formula
themselves when no accelerator takes the call. ``accelerators()`` lists them;
``LOSSKIT_KERNELS=auto|plain|native|triton`` (or ``with losskit.kernels.use("plain"):``)
chooses the path. See :mod:`losskit.kernels._dispatch` for the contract.
"""

# The Triton accelerators register here; triton itself is imported only when one runs.
from . import triton_contrastive as _triton_contrastive  # noqa: F401
from . import triton_overlap as _triton_overlap  # noqa: F401
from . import triton_xent as _triton_xent  # noqa: F401  (after the dispatch it uses)
from ._dispatch import (
    BACKENDS,
    FUSED_MEAN,
    MODES,
    Accelerator,
    AcceleratorDeclined,
    accelerators,
    differentiate_definition,
    dispatch,
    dispatch_mean,
    mode,
    register,
    set_mode,
    use,
)

__all__ = [
    "BACKENDS",
    "FUSED_MEAN",
    "MODES",
    "Accelerator",
    "AcceleratorDeclined",
    "accelerators",
    "differentiate_definition",
    "dispatch",
    "dispatch_mean",
    "mode",
    "register",
    "set_mode",
    "use",
]
