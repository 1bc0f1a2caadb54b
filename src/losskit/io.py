"""Loading the user's data for ``recommend`` and ``compare``: CSV, Parquet, .npy/.npz.

With no path, a bundled example is used (``delivery_times`` by default). Problems
with the file or the target column raise :class:`losskit.cli.CLIError`-compatible
``DataError`` (a ``LossInputError``) with one clear sentence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypedDict

import numpy as np

from ._core.validate import LossInputError

__all__ = ["EXAMPLES", "DataError", "Dataset", "load_dataset"]

class Structure(TypedDict, total=False):
    """Declared structure columns of a data set, by role (``recommend`` and ``compare``
    take them as keywords)."""

    time: np.ndarray
    group: np.ndarray
    event: np.ndarray


#: Bundled examples: name -> (file, target column, metric the example is judged by, summary).
EXAMPLES = {
    "delivery_times": ("delivery_times.csv", "minutes", "mae",
                       "800 delivery times in minutes; 6% of orders hit an incident that adds "
                       "40-150 minutes (gross outliers)"),
    "churn": ("churn.csv", "churned", "f1",
              "3000 customers, about 1 in 45 churns (imbalanced binary, judged by F1)"),
}


class DataError(LossInputError):
    """The data file or the target column cannot be used."""


@dataclass
class Dataset:
    """Features (numeric, after the hygiene of :func:`losskit.tabular.prepare_features`),
    target(s), and the declared structure columns taken out of the features.

    ``frame`` is the feature table as read (without target and structure columns):
    ``recommend`` and ``compare`` take it so their reports say what was done to each
    column; ``notes`` holds those lines.
    """

    X: np.ndarray | None
    y: Any
    feature_names: list[str]
    target_name: str
    source: str
    metric: str | None = None
    frame: Any = None
    notes: list[str] = field(default_factory=list)
    structure: Structure = field(default_factory=Structure)

    @property
    def features(self) -> Any:
        """What to pass as ``X``: the table when there is one, else the matrix."""
        return self.frame if self.frame is not None else self.X

    @property
    def bundled(self) -> bool:
        return self.source.startswith("bundled example")


def _read_table(path: Path) -> Any:
    import pandas as pd

    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        kind = "Parquet" if suffix in (".parquet", ".pq") else "CSV"
        raise DataError(f"cannot read {path} as {kind}: "
                        f"{str(exc).splitlines()[0]}") from None


def _check_target(column: Any, name: str, path: Path) -> Any:
    """The target column, or a DataError saying in one sentence why it cannot be learned."""
    import pandas as pd

    values = column.dropna()
    if values.empty:
        raise DataError(f"target column {name!r} in {path} is entirely empty (all {len(column)} "
                        "values missing)")
    if values.nunique() < 2:
        only = values.iloc[0]
        only = only.item() if hasattr(only, "item") else only
        raise DataError(f"target column {name!r} in {path} has a single value "
                        f"({only!r}) in all {len(values)} non-missing rows: nothing "
                        "to learn")
    if not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
        numeric = pd.to_numeric(values, errors="coerce")
        bad = numeric.isna()
        if bad.sum() > 0 and bad.mean() <= 0.1:
            first = values[bad].iloc[0]
            raise DataError(f"target column {name!r} in {path} is numeric except for "
                            f"{int(bad.sum())} entries such as {first!r} (data row "
                            f"{values[bad].index[0] + 1}); fix or blank them")
    return column


def load_dataset(path: str | Path | None = None, target: str | None = None,
                 example: str = "delivery_times", *, time: str | None = None,
                 group: str | None = None, event: str | None = None) -> Dataset:
    """Read features and target.

    * CSV / Parquet: ``target`` names the column (``"a,b,c"``: several target columns, a
      multi-output target); ``time``, ``group`` and ``event`` name structure columns,
      which are taken out of the features; the other columns are features, prepared by
      :func:`losskit.tabular.prepare_features` (dates and ids dropped, text one-hot
      encoded or dropped, missing values imputed), one note per decision.
    * ``.npy``: the array is the target (no features).
    * ``.npz``: arrays ``y`` (or ``target``) and optionally ``X``.
    """
    if path is None:
        if example not in EXAMPLES:
            raise DataError(f"unknown bundled example {example!r}; choose from {sorted(EXAMPLES)}")
        file, column, metric, summary = EXAMPLES[example]
        with resources.as_file(resources.files("losskit.data") / file) as p:
            ds = load_dataset(p, target or column, time=time, group=group, event=event)
        ds.source, ds.metric = f"bundled example {example!r}: {summary}", metric
        return ds
    path = Path(path)
    if not path.exists():
        raise DataError(f"no such file: {path}")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            y = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise DataError(f"cannot read {path} as .npy: {str(exc).splitlines()[0]}") from None
        return Dataset(None, y, [], target or path.stem, str(path))
    if suffix == ".npz":
        try:
            archive = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise DataError(f"cannot read {path} as .npz: {str(exc).splitlines()[0]}") from None
        with archive as z:
            keys = list(z.keys())
            key = target or next((k for k in ("y", "target", "labels") if k in keys), None)
            if key is None or key not in keys:
                raise DataError(f"{path} has no array {target or 'y'!r}; arrays: {keys}")
            X = z["X"] if "X" in keys else None
            return Dataset(X, z[key], [], key, str(path))
    df = _read_table(path)
    if target is None:
        raise DataError(f"name the target column with --target; columns: {list(df.columns)}")
    targets = [t.strip() for t in str(target).split(",") if t.strip()]
    structure: Structure = {}
    roles: tuple[tuple[Literal["time", "group", "event"], str | None], ...] = (
        ("time", time), ("group", group), ("event", event))
    for role, name in roles:
        if name is not None:
            _require_column(df, name, path, f"--{role}")
            structure[role] = df[name].to_numpy()
    for t in targets:
        _require_column(df, t, path, "--target")
        _check_target(df[t], t, path)
    used = {*targets, *(c for c in (time, group, event) if c is not None)}
    features = df.drop(columns=[c for c in df.columns if c in used])
    from .tabular import prepare_features

    prepared = prepare_features(features if features.shape[1] else None, len(df))
    y = df[targets[0]].to_numpy() if len(targets) == 1 else df[targets]
    return Dataset(prepared.X, y, prepared.names, ",".join(targets), str(path),
                   frame=features if features.shape[1] else None, notes=prepared.notes,
                   structure=structure)


def _require_column(df: Any, name: str, path: Path, option: str) -> None:
    if name in df.columns:
        return
    import difflib

    near = difflib.get_close_matches(name, [str(c) for c in df.columns], n=1)
    hint = f" (did you mean {near[0]!r}?)" if near else ""
    what = "" if option == "--target" else f" for {option}"
    raise DataError(f"no column {name!r}{what} in {path}{hint}; columns: {list(df.columns)}")
