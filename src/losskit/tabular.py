"""Turning a user's feature table into a numeric matrix, saying what was done to each column.

:func:`prepare_features` is shared by ``profile``, ``recommend``, ``compare`` and the CLI
loader, so they see the same features. Nothing happens silently: every column that is
dropped, parsed or imputed gets one line in ``notes``.

* numeric and boolean columns are kept (booleans as 0/1); constant ones are dropped;
* columns that hold dates (a datetime type, or text of which 90% parses as dates) are
  dropped from the features: their order is structure, not signal for a linear probe
  (pass them as ``time=`` for time-ordered folds);
* id-like columns are dropped (a unique key lets a model memorize rows): text that is
  unique per row, a row number (0, 1, 2, ...), or a column named like an id (``id``,
  ``customer_id``, ``uuid``, ``key``, ``code``) whose values are mostly unique;
* text with more than :data:`MAX_LEVELS` distinct values is dropped (free text, names);
  text with fewer is one-hot encoded, missing values as their own level;
* numeric columns with missing values are kept and imputed with the median of the
  training rows (``compare`` does it per fold); with more than half missing, dropped.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._core.validate import LossInputError

__all__ = ["MAX_LEVELS", "Features", "event_indicator", "prepare_features", "structure_column",
           "time_order"]

#: Text columns with more distinct values than this are dropped rather than one-hot encoded.
MAX_LEVELS = 20

_ID_NAME = re.compile(r"(^|[_\s])(id|uuid|guid|key|index|idx|code)$|^(id|uuid|guid)([_\s]|$)",
                      re.IGNORECASE)


@dataclass
class Features:
    """A numeric ``[N, F]`` matrix (NaN where a value is missing), its column names and one
    line per decision taken on the table (``notes``)."""

    X: np.ndarray | None
    names: list[str]
    notes: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    date_columns: list[str] = field(default_factory=list)

    @property
    def n_features(self) -> int:
        return 0 if self.X is None else int(self.X.shape[1])


def _is_date(col: Any) -> tuple[bool, str]:
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(col.dtype):
        values = col.dropna()
        return True, f"{values.min()} .. {values.max()}" if len(values) else ""
    if pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype):
        return False, ""
    sample = col.dropna().astype(str).head(200)
    if sample.empty or not sample.str.contains(r"\d").all():
        return False, ""
    if sample.str.fullmatch(r"[-+]?\d+(\.\d+)?").all():
        return False, ""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    if parsed.notna().mean() >= 0.9:
        return True, f"{parsed.min().date()} .. {parsed.max().date()}"
    return False, ""


def _id_like(name: str, col: Any, n: int) -> bool:
    import pandas as pd

    values = col.dropna()
    if len(values) < max(3, 0.9 * n):
        return False
    unique = values.nunique() / len(values)
    text = not (pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype))
    integer = not text and bool(np.all(np.asarray(values, float) == np.round(values)))
    if _ID_NAME.search(name) and (text or integer) and unique >= 0.5:
        return True
    if unique < 0.98:
        return False
    if text:
        return True
    if integer and len(values) >= 20:
        # a row number: 0, 1, 2, ... or 1, 2, 3, ... (a year or a size is not one)
        v = np.sort(np.asarray(values, float))
        return bool(v[0] in (0.0, 1.0) and np.all(np.diff(v) == 1))
    return False


def prepare_features(X: Any, n_rows: int | None = None) -> Features:
    """The numeric feature matrix of ``X`` (DataFrame, array, tensor or None), with notes.

    Raises :class:`~losskit.LossInputError` when ``X`` does not have ``n_rows`` rows.
    """
    if X is None:
        return Features(None, [])
    if hasattr(X, "detach"):
        X = X.detach().cpu().numpy()
    if not hasattr(X, "columns"):
        a = np.asarray(X)
        if a.ndim == 1:
            a = a[:, None]
        a = a.reshape(len(a), -1) if a.ndim > 2 else a
        if n_rows is not None and len(a) != n_rows:
            raise LossInputError(f"X has {len(a)} rows but y has {n_rows}; they must match")
        if a.dtype == object or a.dtype.kind in "USM":
            import pandas as pd

            return prepare_features(pd.DataFrame(a, columns=[f"x{i}" for i in range(a.shape[1])]),
                                    n_rows)
        try:
            a = a.astype(float)
        except (TypeError, ValueError):
            raise LossInputError("X must be numeric (or a DataFrame)") from None
        import pandas as pd

        X = pd.DataFrame(a, columns=[f"x{i}" for i in range(a.shape[1])])
    return _from_frame(X, n_rows)


def _from_frame(df: Any, n_rows: int | None) -> Features:
    import pandas as pd

    n = len(df)
    if n_rows is not None and n != n_rows:
        raise LossInputError(f"X has {n} rows but y has {n_rows}; they must match")
    blocks: list[np.ndarray] = []
    names: list[str] = []
    notes: list[str] = []
    dropped: list[str] = []
    dates: list[str] = []
    constant: list[str] = []
    imputed: list[tuple[str, int]] = []
    for raw_name in df.columns:
        name = str(raw_name)
        col = df[raw_name]
        missing = int(col.isna().sum())
        if missing == n:
            notes.append(f"column {name!r} is entirely empty: dropped")
            dropped.append(name)
            continue
        is_date, span = _is_date(col)
        if is_date:
            notes.append(f"column {name!r} holds dates ({span}): dropped from the features; "
                         f"pass it as time={name!r} (--time {name}) for time-ordered folds")
            dropped.append(name)
            dates.append(name)
            continue
        if _id_like(name, col, n):
            notes.append(f"column {name!r} looks like an id ({col.nunique()} distinct values in "
                         f"{n} rows): dropped")
            dropped.append(name)
            continue
        numeric = pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(
            col.dtype)
        if numeric:
            values = col.to_numpy(dtype=float, na_value=np.nan)
            finite = values[np.isfinite(values)]
            if finite.size and np.ptp(finite) == 0 and missing == 0:
                constant.append(name)
                continue
            if missing > n / 2:
                notes.append(f"column {name!r} has {missing} of {n} values missing: dropped")
                dropped.append(name)
                continue
            if missing:
                imputed.append((name, missing))
            blocks.append(values[:, None])
            names.append(name)
            continue
        levels = col.astype(object).where(col.notna(), None)
        distinct = levels.dropna().nunique()
        if distinct <= 1 and missing == 0:
            constant.append(name)
            continue
        if distinct > MAX_LEVELS:
            notes.append(f"column {name!r} is text with {distinct} distinct values: dropped "
                         f"(more than {MAX_LEVELS} levels to one-hot encode)")
            dropped.append(name)
            continue
        dummies = pd.get_dummies(levels.astype(str).where(levels.notna(), "<missing>"),
                                 prefix=name, dtype=float)
        extra = f", missing values as their own level ({missing})" if missing else ""
        notes.append(f"column {name!r} is text with {distinct} levels: one-hot encoded into "
                     f"{dummies.shape[1]} columns{extra}")
        blocks.append(dummies.to_numpy())
        names.extend(str(c) for c in dummies.columns)
    if len(imputed) <= 3:
        notes += [f"column {c!r} has {k} missing values ({k / n:.1%}): imputed with the median "
                  "of the training rows" for c, k in imputed]
    else:
        shown = ", ".join(f"{c!r}: {k}" for c, k in imputed[:3])
        notes.append(f"{len(imputed)} columns have missing values ({shown}, ...; at most "
                     f"{max(k for _, k in imputed)} of {n}): imputed with the median of the "
                     "training rows")
    if constant:
        shown = ", ".join(repr(c) for c in constant[:5]) + (", ..." if len(constant) > 5 else "")
        notes.append(f"{len(constant)} constant column{'s' if len(constant) > 1 else ''} "
                     f"({shown}): dropped")
        dropped.extend(constant)
    X = np.hstack(blocks) if blocks else np.zeros((n, 0))
    return _finish(X, names, notes, dropped, dates)


def _finish(X: np.ndarray, names: list[str], notes: list[str], dropped: list[str],
            dates: list[str]) -> Features:
    inf = ~np.isfinite(X) & ~np.isnan(X)
    if inf.any():
        cols = [names[j] for j in np.flatnonzero(inf.any(axis=0))]
        notes.append(f"{int(inf.sum())} infinite feature values (in {', '.join(cols[:3])}) "
                     "treated as missing")
        X = np.where(inf, np.nan, X)
    return Features(X if X.shape[1] else None, names, notes, dropped, dates)


# ---------------------------------------------------------------------------------------
# Declared structure: event, group and time columns


def structure_column(value: Any, X: Any, name: str, n: int) -> tuple[np.ndarray | None, Any]:
    """(one value per row, X without that column) for an argument such as ``time=`` that is
    an array or the name of a column of the table ``X``."""
    if value is None:
        return None, X
    if isinstance(value, str):
        if not hasattr(X, "columns") or value not in X.columns:
            have = list(map(str, X.columns)) if hasattr(X, "columns") else "X is not a table"
            raise LossInputError(f"{name}={value!r} names no column of X (columns: {have})")
        return _as_1d(X[value], name, n), X.drop(columns=[value])
    return _as_1d(value, name, n), X


def _as_1d(value: Any, name: str, n: int) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    if hasattr(value, "to_numpy"):
        value = value.to_numpy()
    a = np.asarray(value)
    if a.ndim != 1 or len(a) != n:
        raise LossInputError(f"{name} must hold one value per row of y ({n}), got shape "
                             f"{a.shape}")
    return a


def time_order(time: np.ndarray) -> np.ndarray:
    """The permutation that sorts rows by ``time`` (numbers, datetimes or date strings)."""
    if time.dtype.kind in "biuf":
        return np.argsort(time, kind="mergesort")
    if time.dtype.kind == "M":
        return np.argsort(time.astype("datetime64[ns]").astype("int64"), kind="mergesort")
    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(pd.Series(time), errors="coerce", format="mixed")
    if parsed.isna().mean() > 0.1:
        raise LossInputError("time must hold numbers or dates; more than 10% of its values are "
                             "neither")
    return np.argsort(parsed.to_numpy(dtype="datetime64[ns]").astype("int64"), kind="mergesort")


def event_indicator(event: np.ndarray) -> np.ndarray:
    """The event column as floats 0/1 (1 = the event happened, 0 = censored)."""
    try:
        e = np.asarray(event).astype(float)
    except (TypeError, ValueError):
        raise LossInputError("event must be 0/1 (1 = the event happened, 0 = censored)") from None
    bad = e[np.isfinite(e)]
    if not np.all(np.isin(bad, (0.0, 1.0))):
        raise LossInputError("event must be 0/1 (1 = the event happened, 0 = censored), got "
                             f"values such as {sorted(set(np.unique(bad).tolist()))[:5]}")
    return e
