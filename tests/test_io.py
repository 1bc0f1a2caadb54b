"""losskit.io.load_dataset: the formats it reads and the one-sentence errors it raises."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from losskit.io import EXAMPLES, DataError, load_dataset


def test_bundled_examples_load_with_their_metric():
    ds = load_dataset()
    assert ds.bundled and ds.metric == EXAMPLES["delivery_times"][2]
    assert ds.target_name == "minutes" and ds.X.shape == (len(ds.y), 4)
    churn = load_dataset(example="churn")
    assert churn.metric == "f1" and set(np.unique(churn.y)) == {0, 1}
    with pytest.raises(DataError, match="unknown bundled example"):
        load_dataset(example="nope")


def test_csv_and_parquet_give_the_same_dataset(tmp_path):
    df = pd.DataFrame({"size": [1.0, 2.0, 3.0, 4.0], "city": ["a", "b", "a", "c"],
                       "price": [10.0, 20.0, 15.0, 30.0]})
    df.to_csv(tmp_path / "d.csv", index=False)
    df.to_parquet(tmp_path / "d.parquet")
    a = load_dataset(tmp_path / "d.csv", "price")
    b = load_dataset(tmp_path / "d.parquet", "price")
    assert a.feature_names == b.feature_names == ["size", "city_a", "city_b", "city_c"]
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, [10.0, 20.0, 15.0, 30.0])
    assert not a.bundled and a.metric is None


def test_npy_and_npz(tmp_path):
    np.save(tmp_path / "y.npy", np.arange(5.0))
    ds = load_dataset(tmp_path / "y.npy")
    assert ds.X is None and ds.target_name == "y" and ds.y.tolist() == [0, 1, 2, 3, 4]
    np.savez(tmp_path / "d.npz", X=np.ones((5, 2)), labels=np.arange(5))
    ds = load_dataset(tmp_path / "d.npz")
    assert ds.target_name == "labels" and ds.X.shape == (5, 2)
    with pytest.raises(DataError, match="no array 'z'"):
        load_dataset(tmp_path / "d.npz", "z")


@pytest.mark.parametrize("csv, target, message", [
    ("a,b\n1,2\n3,4\n", None, "name the target column"),
    ("price,b\n1,2\n3,4\n", "prices", "did you mean 'price'"),
    ("price,b\n,2\n,4\n", "price", "entirely empty"),
    ("price,b\n7,2\n7,4\n", "price", "single value (7)"),
    ("price,b\n1,2\n2,3\n3,4\n4,5\n5,6\n6,7\n7,8\n8,9\n9,1\n10,2\nn/a!,3\n", "price",
     "numeric except for 1 entries such as 'n/a!'"),
    ("price,b\n1,2\n3,4\n", "price,cost", "no column 'cost'"),
    ("price,b\n1,2\n3,4\n", "price", "for --time"),
])
def test_bad_tables_raise_one_sentence(tmp_path, csv, target, message):
    path = tmp_path / "d.csv"
    path.write_text(csv)
    kwargs = {"time": "when"} if message == "for --time" else {}
    with pytest.raises(DataError) as err:
        load_dataset(path, target, **kwargs)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_unreadable_files(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_dataset(tmp_path / "missing.csv", "y")
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(DataError, match=r"cannot read .* as Parquet"):
        load_dataset(tmp_path / "bad.parquet", "y")
    (tmp_path / "bad.npy").write_text("not numpy")
    with pytest.raises(DataError, match=r"cannot read .* as \.npy"):
        load_dataset(tmp_path / "bad.npy")


def test_text_labels_stay_labels(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("x,animal\n1,cat\n2,dog\n3,cat\n")
    ds = load_dataset(path, "animal")
    assert list(ds.y) == ["cat", "dog", "cat"]


def test_an_empty_feature_column_is_dropped_with_a_note(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("price,b,c\n1,,2\n3,,4\n")
    ds = load_dataset(path, "price")
    assert ds.feature_names == ["c"]
    assert any("'b' is entirely empty: dropped" in note for note in ds.notes)


def test_several_targets_and_structure_columns_leave_the_features(tmp_path):
    df = pd.DataFrame({"day": pd.date_range("2024-01-01", periods=6).astype(str),
                       "shop": ["a", "a", "b", "b", "c", "c"], "x": np.arange(6.0) * 1.5,
                       "y1": np.arange(6.0), "y2": np.arange(6.0) ** 2})
    df.to_csv(tmp_path / "d.csv", index=False)
    ds = load_dataset(tmp_path / "d.csv", "y1,y2", time="day", group="shop")
    assert ds.target_name == "y1,y2" and list(ds.y.columns) == ["y1", "y2"]
    assert ds.feature_names == ["x"] and set(ds.structure) == {"time", "group"}
    assert list(ds.structure["group"]) == ["a", "a", "b", "b", "c", "c"]
