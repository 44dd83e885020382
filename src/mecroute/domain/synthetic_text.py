"""The simulated models' answers: deterministic text for a (model, prompt, seed), one token per
word, stopped at the caller's max_tokens. The built-in MEC node, the cloud simulator and the
emulated device run all answer with it."""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass
from typing import Literal

# An answer's natural length in tokens (where the simulated model would stop on its own).
SHORTEST_ANSWER, LONGEST_ANSWER = 12, 96
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]{3,}")
_COMMON = frozenset(
    {"what", "which", "when", "where", "about", "there", "their", "would", "could", "should",
     "these", "those", "this", "that", "with", "from", "have", "your", "please", "tell",
     "explain", "give", "write", "into", "than", "then", "them", "they", "were", "been"}
)  # fmt: skip
_SENTENCES = (
    "The short answer concerns {topic}.",
    "A full model would weigh {topic} against {other} here.",
    "In practice {topic} depends on the context given.",
    "Consider {other} first, then {topic}.",
    "This text stands in for what a real model says about {topic}.",
    "The key point is how {topic} relates to {other}.",
)


@dataclass(frozen=True)
class GeneratedText:
    text: str
    output_tokens: int
    finish_reason: Literal["stop", "length"]


def generate(model_id: str, prompt: str, max_tokens: int, seed: int = 0) -> GeneratedText:
    """The same model, prompt and seed always give the same answer; `max_tokens` cuts it."""
    digest = hashlib.sha256(f"{seed}\x00{model_id}\x00{prompt}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    target = rng.randint(SHORTEST_ANSWER, LONGEST_ANSWER - 12)
    topics = _topics(prompt) or ["this", "question"]
    words = f"[{model_id}, simulated]".split()
    while len(words) < target:  # whole sentences: the answer ends where a sentence does
        topic, other = rng.sample(topics, 2) if len(topics) > 1 else (topics[0], "the context")
        words += rng.choice(_SENTENCES).format(topic=topic, other=other).split()
    limit = min(len(words), max_tokens)
    finish: Literal["stop", "length"] = "length" if limit < len(words) else "stop"
    return GeneratedText(" ".join(words[:limit]), limit, finish)


def _topics(prompt: str) -> list[str]:
    seen: dict[str, None] = {}
    for word in _WORD.findall(prompt):
        lowered = word.lower()
        if lowered not in _COMMON:
            seen.setdefault(lowered)
    return list(seen)[:6]
