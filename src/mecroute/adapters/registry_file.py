"""Reads the model registry file a person edits (src/mecroute/models.json by default) and says
exactly what is wrong in it: the line, the entry and the field."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mecroute.domain.registry import ModelRegistry

DEFAULT_MODELS_FILE = Path(__file__).resolve().parents[1] / "models.json"
# Points the zoo, the offline runtime and `cdk synth` at another registry file.
MODELS_FILE_VARIABLE = "MECROUTE_MODELS_FILE"


class RegistryFileError(ValueError):
    """The file cannot be used; `problems` has one line per error, each naming its place."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def models_file() -> Path:
    return Path(os.environ.get(MODELS_FILE_VARIABLE) or DEFAULT_MODELS_FILE)


def load_registry(path: Path | None = None) -> ModelRegistry:
    path = path or models_file()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise RegistryFileError([f"{path}: cannot read it: {error.strerror}"]) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        place = f"{path}:{error.lineno}:{error.colno}"
        raise RegistryFileError([f"{place}: not valid JSON: {error.msg}"]) from None
    try:
        return ModelRegistry.model_validate(data)
    except ValidationError as error:
        lines = entry_lines(text)
        raise RegistryFileError(
            [describe(path, data, lines, problem) for problem in error.errors()]
        ) from None


def entry_lines(text: str) -> list[int]:
    """The line on which each entry of the (valid JSON) file's `models` list starts."""
    start = re.search(r'"models"\s*:\s*\[', text)
    if start is None:
        return []
    decoder = json.JSONDecoder()
    position, lines = start.end(), list[int]()
    while True:
        while position < len(text) and text[position] in " \t\r\n,":
            position += 1
        if position >= len(text) or text[position] == "]":
            return lines
        lines.append(text.count("\n", 0, position) + 1)
        _, position = decoder.raw_decode(text, position)


def describe(path: Path, data: Any, lines: list[int], problem: Any) -> str:
    location = tuple(problem["loc"])
    message = problem["msg"].removeprefix("Value error, ")
    if len(location) >= 2 and location[0] == "models" and isinstance(location[1], int):
        index = location[1]
        entry = data["models"][index]
        model_id = entry.get("model_id", "?") if isinstance(entry, dict) else "?"
        line = f":{lines[index]}" if index < len(lines) else ""
        field = ".".join(str(part) for part in location[2:]) or "(the entry)"
        return f"{path}{line}: models[{index}] ({model_id}), field {field}: {message}"
    field = ".".join(str(part) for part in location) or "(the file)"
    return f"{path}: field {field}: {message}"
