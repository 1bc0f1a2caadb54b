"""``losskit.compare``: train candidate losses on the same folds and compare them on your metric.

>>> import losskit
>>> c = losskit.compare(X, y, losses=["mse", "huber", "mae"], metric="mae")  # doctest: +SKIP
>>> c.to_dict()["results"][0]["loss"]  # doctest: +SKIP
'huber(delta=...)'

:func:`compare` returns a :class:`Comparison` (``to_dict()`` is JSON-ready, ``plot()``
writes PNGs); :mod:`losskit.compare.scenarios` turns classic claims about losses
into runnable experiments.
"""

import sys as _sys
import types as _types
from typing import Any

from ._compare import Comparison, ComparisonDict, LossResult, compare, infer_task
from ._metrics import METRICS, Metric, resolve_metric
from ._stats import misalignment, paired_test

__all__ = ["METRICS", "Comparison", "ComparisonDict", "LossResult", "Metric", "compare",
           "infer_task", "misalignment", "paired_test", "resolve_metric"]


class _CallableModule(_types.ModuleType):
    """``losskit.compare`` is both this package and the function: importing the package
    (``import losskit.compare``) rebinds the attribute on ``losskit`` to the module, so the
    module forwards calls to :func:`compare`."""

    def __call__(self, *args: Any, **kwargs: Any) -> Comparison:
        return compare(*args, **kwargs)


_sys.modules[__name__].__class__ = _CallableModule
