"""Reads per-query outcome CSVs in the routellm-mmlu format and applies its fixed split."""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Split = Literal["test", "train", "all"]
MEC_COLUMN = "mistralai/Mixtral-8x7B-Instruct-v0.1"
CLOUD_COLUMN = "gpt-4-1106-preview"


@dataclass(frozen=True)
class Labelled:
    prompt: str
    subject: str
    mec_correct: bool
    cloud_correct: bool


def in_test_split(prompt: str) -> bool:
    """The data README's rule, so figures are comparable everywhere."""
    return int(hashlib.sha256(prompt.encode("utf-8")).hexdigest(), 16) % 10 < 3


def read(data_dir: Path, split: Split = "test") -> list[Labelled]:
    files = sorted(data_dir.glob("*.csv"))
    if not files:
        raise FileNotFoundError(f"no CSV files in {data_dir}")
    rows = [row for path in files for row in _read_file(path)]
    if split == "all":
        return rows
    return [row for row in rows if in_test_split(row.prompt) == (split == "test")]


def _read_file(path: Path) -> Iterator[Labelled]:
    subject = path.stem.removeprefix("mmlu_")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"prompt", MEC_COLUMN, CLOUD_COLUMN} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path.name}: missing columns {sorted(missing)}")
        for row in reader:
            yield Labelled(
                prompt=row["prompt"],
                subject=subject,
                mec_correct=row[MEC_COLUMN].strip().lower() == "true",
                cloud_correct=row[CLOUD_COLUMN].strip().lower() == "true",
            )
