"""MONAI's published test cases for its overlap losses, transcribed (inputs and expected numbers).

Source: Project-MONAI/MONAI at commit d388d1c6fec8cb3a0eebee5b5a0b9776ca59ca83,
``tests/losses/test_dice_loss.py`` (``TestDiceLoss.test_shape``, ``TEST_CASES``),
``tests/losses/test_generalized_dice_loss.py`` (``TestGeneralizedDiceLoss.test_shape``),
and ``tests/losses/test_tversky_loss.py`` (``TestTverskyLoss.test_shape``).
Each entry keeps MONAI's constructor arguments, its ``forward`` inputs and the expected
value, in MONAI's order; ``index`` is the position in that file's ``TEST_CASES``.
"""

from __future__ import annotations

import torch

DICE_FILE = "tests/losses/test_dice_loss.py::TestDiceLoss::test_shape"
GDL_FILE = "tests/losses/test_generalized_dice_loss.py::TestGeneralizedDiceLoss::test_shape"
TVERSKY_FILE = "tests/losses/test_tversky_loss.py::TestTverskyLoss::test_shape"


def _log_softmax(x):
    return torch.log_softmax(x, dim=1)


# Inputs shared by many cases (named after their shapes in MONAI's comments).
X1 = [[[[1.0, -1.0], [-1.0, 1.0]]]]  # (1, 1, 2, 2)
T1 = [[[[1.0, 0.0], [1.0, 1.0]]]]
X2 = [[[[1.0, -1.0], [-1.0, 1.0]]], [[[1.0, -1.0], [-1.0, 1.0]]]]  # (2, 1, 2, 2)
T2 = [[[[1.0, 1.0], [1.0, 1.0]]], [[[1.0, 0.0], [1.0, 0.0]]]]
X2B = [[[[1.0, -0.0], [-1.0, 1.0]]], [[[1.0, -1.0], [-1.0, 1.0]]]]
P_SOFT = [[[[0.3, 0.4], [0.7, 0.9]]], [[[1.0, 0.1], [0.5, 0.3]]]]  # probabilities (2, 1, 2, 2)
P3 = [[[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]], [[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]]  # (2, 2, 3)
T3 = [[[0.0, 0.0, 1.0]], [[0.0, 1.0, 0.0]]]  # (2, 1, 3) class indices
X3 = [[[-1.0, 0.0, 1.0], [1.0, 0.0, -1.0]], [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]]
T3B = [[[1.0, 0.0, 0.0]], [[1.0, 1.0, 0.0]]]

# (index, MONAI arguments, input, target, expected)
DICE = [
    (0, {"include_background": True, "sigmoid": True, "smooth_nr": 1e-6, "smooth_dr": 1e-6},
     X1, T1, 0.307576),
    (1, {"include_background": True, "sigmoid": True, "smooth_nr": 1e-4, "smooth_dr": 1e-4},
     X2, T2, 0.416657),
    (2, {"include_background": True, "smooth_nr": 1e-4, "smooth_dr": 1e-4, "soft_label": True},
     P_SOFT, P_SOFT, 0.0),
    (3, {"include_background": True, "smooth_nr": 1e-4, "smooth_dr": 1e-4, "soft_label": False},
     P_SOFT, P_SOFT, 0.307773),
    (4, {"include_background": False, "to_onehot_y": True, "smooth_nr": 0, "smooth_dr": 0},
     P3, T3, 0.0),
    (5, {"include_background": True, "to_onehot_y": True, "sigmoid": True, "smooth_nr": 1e-4,
         "smooth_dr": 1e-4}, X3, T3B, 0.435050),
    (6, {"include_background": True, "to_onehot_y": True, "sigmoid": True, "reduction": "none",
         "smooth_nr": 1e-4, "smooth_dr": 1e-4}, X3, T3B,
     [[[0.296529], [0.415136]], [[0.599976], [0.428559]]]),
    (7, {"include_background": True, "to_onehot_y": True, "softmax": True, "smooth_nr": 1e-4,
         "smooth_dr": 1e-4}, X3, T3B, 0.383713),
    (8, {"include_background": True, "to_onehot_y": True, "softmax": True, "reduction": "sum",
         "smooth_nr": 1e-4, "smooth_dr": 1e-4}, X3, T3B, 1.534853),
    (9, {"include_background": True, "sigmoid": True, "smooth_nr": 1e-6, "smooth_dr": 1e-6},
     X1, T1, 0.307576),
    (10, {"include_background": True, "sigmoid": True, "squared_pred": True}, X1, T1, 0.178337),
    (11, {"include_background": True, "sigmoid": True, "jaccard": True}, X1, T1, 0.470451),
    (12, {"include_background": True, "other_act": torch.tanh, "smooth_nr": 1e-4,
          "smooth_dr": 1e-4}, X2, T2, 0.999963),
    (13, {"include_background": True, "to_onehot_y": True, "other_act": _log_softmax,
          "smooth_nr": 1e-4, "smooth_dr": 1e-4}, X3, T3B, -8.522593),
    (14, {"include_background": True, "other_act": torch.tanh, "smooth_nr": 1e-4,
          "smooth_dr": 1e-4, "batch": True}, X2B, T2, 0.774718),
    (15, {"include_background": True, "other_act": torch.tanh, "smooth_nr": 0,
          "smooth_dr": 1e-4, "batch": True}, X2B, T2, 0.774733),
    (16, {"include_background": True, "other_act": torch.tanh, "smooth_nr": 0,
          "smooth_dr": 1e-4, "batch": False}, X2B, T2, 0.840058),
    (17, {"include_background": True, "to_onehot_y": True, "other_act": _log_softmax,
          "smooth_nr": 1e-4, "smooth_dr": 1e-4, "weight": (0, 1)}, X3, T3B, -8.268515),
]

GENERALIZED_DICE = [
    (0, {"include_background": True, "sigmoid": True, "smooth_nr": 1e-6, "smooth_dr": 1e-6},
     X1, T1, 0.307576),
    (1, {"include_background": True, "sigmoid": True, "smooth_nr": 1e-4, "smooth_dr": 1e-4},
     X2, T2, 0.416597),
    (2, {"include_background": True, "smooth_nr": 1e-4, "smooth_dr": 1e-4, "soft_label": True},
     P_SOFT, P_SOFT, 0.0),
    (3, {"include_background": True, "smooth_nr": 1e-4, "smooth_dr": 1e-4, "soft_label": False},
     P_SOFT, P_SOFT, 0.307748),
    (4, {"include_background": False, "to_onehot_y": True, "smooth_nr": 0.0, "smooth_dr": 0.0},
     P3, T3, 0.0),
    (5, {"include_background": True, "to_onehot_y": True, "sigmoid": True, "smooth_nr": 1e-4,
         "smooth_dr": 1e-4}, X3, T3B, 0.469964),
    (6, {"include_background": True, "to_onehot_y": True, "softmax": True, "smooth_nr": 1e-4,
         "smooth_dr": 1e-4}, X3, T3B, 0.414507),
    (7, {"include_background": True, "to_onehot_y": True, "softmax": True, "reduction": "sum",
         "smooth_nr": 1e-4, "smooth_dr": 1e-4}, X3, T3B, 0.829015),
    (8, {"include_background": True, "to_onehot_y": True, "softmax": True, "reduction": "none",
         "smooth_nr": 1e-4, "smooth_dr": 1e-4}, X3, T3B, [[[0.273476]], [[0.555539]]]),
    (9, {"include_background": False, "to_onehot_y": True, "smooth_nr": 1e-8, "smooth_dr": 1e-8},
     P3, [[[0.0, 0.0, 0.0]], [[0.0, 0.0, 0.0]]], 0.0),
    (10, {"include_background": True, "sigmoid": True, "smooth_nr": 1e-6, "smooth_dr": 1e-6},
     X1, T1, 0.307576),
    (11, {"include_background": True, "to_onehot_y": True, "softmax": True, "w_type": "simple",
          "smooth_nr": 0, "smooth_dr": 0},
     [[[0.0, 10.0, 10.0, 10.0], [10.0, 0.0, 0.0, 0.0]]], [[[1, 1, 0, 0]]], 0.250023),
    (12, {"include_background": True, "other_act": torch.tanh, "smooth_nr": 1e-4,
          "smooth_dr": 1e-4}, X2, T2, 0.99970),
    (13, {"include_background": True, "to_onehot_y": True, "other_act": _log_softmax,
          "smooth_nr": 1e-4, "smooth_dr": 1e-4}, X3, T3B, -0.097833),
]

TVERSKY = [
    (0, {"include_background": True, "sigmoid": True, "smooth_nr": 1e-6, "smooth_dr": 1e-6},
     X1, T1, 0.307576),
    (1, {"include_background": True, "sigmoid": True, "smooth_nr": 1e-4, "smooth_dr": 1e-4},
     X2, T2, 0.416657),
    (2, {"include_background": True, "smooth_nr": 1e-4, "smooth_dr": 1e-4, "soft_label": True},
     P_SOFT, P_SOFT, 0.0),
    (3, {"include_background": True, "smooth_nr": 1e-4, "smooth_dr": 1e-4, "soft_label": False},
     P_SOFT, P_SOFT, 0.307773),
    (4, {"include_background": False, "to_onehot_y": True, "smooth_nr": 0, "smooth_dr": 0},
     P3, T3, 0.0),
    (5, {"include_background": False, "to_onehot_y": True, "smooth_nr": 0, "smooth_dr": 1e-3},
     P3, T3, 0.000999),
    (6, {"include_background": True, "to_onehot_y": True, "sigmoid": True, "smooth_nr": 1e-4,
         "smooth_dr": 1e-4}, X3, T3B, 0.435050),
    (7, {"include_background": True, "to_onehot_y": True, "sigmoid": True, "batch": True},
     X3, T3B, 0.422979),
    (8, {"include_background": True, "to_onehot_y": True, "sigmoid": True, "reduction": "sum",
         "smooth_nr": 1e-4, "smooth_dr": 1e-4}, X3, T3B, 1.74013),
    (9, {"include_background": True, "to_onehot_y": True, "softmax": True, "smooth_nr": 1e-4,
         "smooth_dr": 1e-4}, X3, T3B, 0.383713),
    (10, {"include_background": True, "to_onehot_y": True, "softmax": True, "reduction": "none",
          "smooth_nr": 1e-4, "smooth_dr": 1e-4}, X3, T3B,
     [[0.210961, 0.295339], [0.599952, 0.428547]]),
    (11, {"include_background": True, "sigmoid": True, "alpha": 0.3, "beta": 0.7,
          "smooth_nr": 1e-6, "smooth_dr": 1e-6}, X1, T1, 0.3589),
    (12, {"include_background": True, "sigmoid": True, "alpha": 0.7, "beta": 0.3,
          "smooth_nr": 1e-6, "smooth_dr": 1e-6}, X1, T1, 0.247366),
    (13, {"include_background": True, "other_act": torch.tanh, "smooth_nr": 1e-4,
          "smooth_dr": 1e-4}, X2, T2, 0.999963),
    (14, {"include_background": True, "other_act": torch.tanh, "smooth_nr": 0,
          "smooth_dr": 1e-3, "batch": True}, X2, T2, 0.999963),
    (15, {"include_background": True, "to_onehot_y": True, "other_act": _log_softmax,
          "smooth_nr": 1e-4, "smooth_dr": 1e-4}, X3, T3B, -8.533317),
]
