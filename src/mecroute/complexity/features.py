"""Prompt features that carry across prompt kinds: length, structure, arithmetic, reasoning, code.

The one home of these features: training and the shipped model both call `prompt_features`,
whose output is the ONNX graph's second input. Each value lies in [0, 1].
"""

from __future__ import annotations

import math
import re
from collections import Counter

_WORD = re.compile(r"\w+")
_NUMBER = re.compile(r"(?<![A-Za-z])\d+(?:[.,]\d+)*")
_MATH = re.compile(r"[=+*/^<>%√∑∫≤≥±\u00d7÷]|\\(?:frac|sqrt|sum|int|cdot|le|ge)")
_CHOICES = re.compile(r"^[ \t]*[A-D][.)]\s", re.MULTILINE)  # [ \t]*, not \s*: linear
_OPTION = re.compile(r"\b([A-D])[.)] ")
_OPTION_GAP = 400  # at most this many characters between one option and the next


def _inline_choices(prompt: str) -> bool:
    """Options A. B. C. D. in order, each within _OPTION_GAP characters of the previous one.
    One pass over the option markers: a regex with gaps between them backtracks
    polynomially on long prompts full of markers."""
    chain_end: dict[str, int] = {}
    for match in _OPTION.finditer(prompt):
        letter = match.group(1)
        if letter == "A":
            chain_end["A"] = match.end()
            continue
        previous = chain_end.get("ABCD"[ord(letter) - ord("B")])
        if previous is not None and 1 <= match.start() - previous <= _OPTION_GAP:
            if letter == "D":
                return True
            chain_end[letter] = match.end()
    return False


_Cues = tuple[frozenset[str], tuple[str, ...], "re.Pattern[str] | None"]


def _cues(words: str, phrases: str = "", pattern: str = "") -> _Cues:
    """Words are looked up in a set, `|`-separated phrases counted as substrings of the
    lower-cased prompt, and a regex only where neither will do: all three are fast."""
    literal = tuple(p for p in phrases.split("|") if p)
    return frozenset(words.split()), literal, re.compile(pattern) if pattern else None


_COUNTED = r"(?<!\d)\d+ (?:{})\b"  # (?<!\d): tried once per digit run, so linear
# Each cue class: single words, literal phrases, and an optional regex.
_CUE_CLASSES = {
    "arithmetic": _cues(
        "total each per percent average ratio remaining left twice half cost costs spend spent "
        "earn earns price discount profit calculate compute sum product probability solve "
        "equation integral derivative",
        "how many|how much|how long|how far|how old|times as|more than|less than|fewer than"
        "|left over",
    ),
    "reasoning": _cues(
        "prove proof derive justify reasoning logic logical puzzle riddle suppose assume implies "
        "therefore contradiction theorem lemma optimal optimise optimize tradeoff tradeoffs "
        "analyse analyze evaluate critique design architecture complexity counterexample "
        "infinitely",
        "show that|explain why|why does|why is|step by step|if and only if|trade-off",
    ),
    "code": _cues(
        "function return python javascript typescript java rust golang bash sql regex html css "
        "api bug compile compiler algorithm implement code program script recursion recursive "
        "runtime dataframe numpy pandas react docker kubernetes",
        "```|def |class |import |#include|=>|c++|c#|big-o|big o|data structure|linked list"
        "|binary tree|hash map|hashmap|;\n",
    ),
    "constraints": _cues(
        "exactly must never format json table bullet rhyme rhyming acrostic lowercase uppercase "
        "constraint constraints",
        "at least|at most|no more than|no less than|without using|only use|do not|don't"
        "|start with|starts with|end with|ends with|begin with|begins with|all caps"
        "|in the style of",
        _COUNTED.format("words|sentences|characters|lines") + r"|under \d+",
    ),
    "long_output": _cues(
        "essay story article blog report poem novel screenplay speech detailed comprehensive "
        "thorough plan guide tutorial proposal strategy",
        "in depth|in-depth",
        _COUNTED.format("paragraphs|ideas|examples|tips|ways|steps|reasons"),
    ),
    "transform": _cues(
        "rewrite rephrase paraphrase summarise summarize translate proofread classify "
        "categorise categorize extract convert",
        "correct the|fix the grammar|the following|this text|this sentence|this paragraph"
        "|this passage|this article|this email|this review",
    ),
    "steps": _cues("then after afterwards first second next finally later until"),
    "small_talk": _cues(
        "hi hello hey thanks bye lol ok okay",
        "thank you|good morning|good evening|good night|good afternoon|how are you",
    ),
}

FEATURES = (
    "length",
    "lines",
    "numbers",
    "math",
    "arithmetic",
    "reasoning",
    "code",
    "constraints",
    "long_output",
    "transform",
    "steps",
    "questions",
    "small_talk",
    "multiple_choice",
)
# Counts at which a cue class saturates (its feature reaches 1).
_SATURATION = {
    "arithmetic": 10,
    "reasoning": 6,
    "code": 15,
    "constraints": 6,
    "long_output": 4,
    "transform": 3,
    "steps": 8,
}


def _log_scale(count: float, at_one: float) -> float:
    """log1p(count) / log1p(at_one), capped at 1: the first few occurrences count most."""
    return min(1.0, math.log1p(count) / math.log1p(at_one))


def _cue_counts(prompt: str) -> tuple[int, dict[str, int]]:
    lowered = prompt.lower()
    words = Counter(_WORD.findall(lowered))
    counts = {}
    for name, (single, phrases, pattern) in _CUE_CLASSES.items():
        count = sum(words[word] for word in single.intersection(words))
        count += sum(lowered.count(phrase) for phrase in phrases)
        counts[name] = count + (len(pattern.findall(lowered)) if pattern else 0)
    return words.total(), counts


def prompt_features(prompt: str) -> list[float]:
    """One value in [0, 1] per name in FEATURES, in that order."""
    words, cues = _cue_counts(prompt)
    scaled = {name: _log_scale(cues[name], at_one) for name, at_one in _SATURATION.items()}
    return [
        _log_scale(words, 1000),
        _log_scale(prompt.count("\n"), 60),
        _log_scale(len(_NUMBER.findall(prompt)), 30),
        _log_scale(len(_MATH.findall(prompt)), 30),
        scaled["arithmetic"],
        scaled["reasoning"],
        scaled["code"],
        scaled["constraints"],
        scaled["long_output"],
        scaled["transform"],
        scaled["steps"],
        _log_scale(prompt.count("?"), 5),
        1.0 if words <= 8 and cues["small_talk"] else 0.0,
        1.0 if len(_CHOICES.findall(prompt)) >= 3 or _inline_choices(prompt) else 0.0,
    ]
