"""Dataset splits: the QM9 ``datasplits.json`` format, seeded random splits, nested training subsets."""

from __future__ import annotations

import json

import pytest

from rhograph.data.splits import Split, load_split, random_split, save_split, train_subset
from rhograph.errors import DensityFileError


def test_load_qm9_format_and_round_trip(tmp_path):
    path = tmp_path / "datasplits.json"
    path.write_text(json.dumps({"train": [0, 2, 5], "validation": [1], "test": [3, 4]}))
    split = load_split(path)
    assert split == Split(train=(0, 2, 5), validation=(1,), test=(3, 4))
    split.check(6)
    out = tmp_path / "copy.json"
    save_split(split, out)
    assert load_split(out) == split


def test_test_list_is_optional(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"train": [0, 1], "validation": [2]}))
    assert load_split(path).test == ()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "not valid JSON"),
        ('{"train": [0]}', "'validation'"),
        ('{"train": [0, 1.5], "validation": [2]}', "integer indices"),
        ("[1, 2]", "JSON object"),
    ],
)
def test_bad_split_files_name_file_and_problem(tmp_path, content, problem):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(DensityFileError, match=problem) as info:
        load_split(path)
    assert str(path) in str(info.value)


def test_check_rejects_overlap_and_out_of_range():
    with pytest.raises(ValueError, match="both train and validation"):
        Split(train=(0, 1), validation=(1,)).check(3)
    with pytest.raises(ValueError, match="out of range"):
        Split(train=(0, 7), validation=(1,)).check(3)


def test_random_split_sizes_disjoint_and_seeded():
    split = random_split(100, val_size=5, test_size=0.2, seed=3)
    assert split.sizes() == {"train": 75, "validation": 5, "test": 20}
    split.check(100)
    assert sorted(split.train + split.validation + split.test) == list(range(100))
    assert random_split(100, val_size=5, test_size=0.2, seed=3) == split
    assert random_split(100, val_size=5, test_size=0.2, seed=4) != split
    with pytest.raises(ValueError, match="leave no training"):
        random_split(10, val_size=5, test_size=5, seed=0)


def test_train_subsets_are_nested_for_learning_curves():
    split = random_split(200, val_size=10, test_size=10, seed=0)
    subsets = [set(train_subset(split, n, seed=1).train) for n in (10, 40, 180)]
    assert [len(s) for s in subsets] == [10, 40, 180]
    assert subsets[0] <= subsets[1] <= subsets[2] <= set(split.train)
    assert train_subset(split, 40, seed=1).validation == split.validation
    assert train_subset(split, None, seed=1) is split
    with pytest.raises(ValueError, match="train_size"):
        train_subset(split, 500, seed=1)
