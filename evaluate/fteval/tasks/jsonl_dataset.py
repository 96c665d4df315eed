"""The `custom_dataset` of the ftkit task YAMLs: their JSONL files read from this folder, wherever it is installed.

lm-eval hands `dataset_kwargs: {data_files: ...}` to `datasets.load_dataset`, which resolves a relative path
against the current directory, not the YAML's; lm-eval resolves `!function` names against the YAML's folder.

    custom_dataset: !function jsonl_dataset.load
    dataset_kwargs:
      data_file: arithmetic.jsonl
"""

from __future__ import annotations

import json
from pathlib import Path

import datasets

HERE = Path(__file__).resolve().parent


def load(data_file: str, **_metadata) -> datasets.DatasetDict:
    """The rows of `data_file` (next to this module) as the `test` split; lm-eval also passes the task's metadata."""
    lines = (HERE / data_file).read_text(encoding="utf-8").splitlines()
    # Dataset.from_list: in memory, so nothing is written to the datasets cache for a hundred rows.
    return datasets.DatasetDict({"test": datasets.Dataset.from_list([json.loads(line) for line in lines if line])})
