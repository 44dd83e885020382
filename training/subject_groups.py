"""MMLU subjects by the benchmark's own category (STEM, humanities, social sciences, other)."""

from __future__ import annotations

STEM = frozenset(
    {
        "abstract_algebra",
        "anatomy",
        "astronomy",
        "college_biology",
        "college_chemistry",
        "college_computer_science",
        "college_mathematics",
        "college_physics",
        "computer_security",
        "conceptual_physics",
        "electrical_engineering",
        "elementary_mathematics",
        "high_school_biology",
        "high_school_chemistry",
        "high_school_computer_science",
        "high_school_mathematics",
        "high_school_physics",
        "high_school_statistics",
        "machine_learning",
    }
)
HUMANITIES = frozenset(
    {
        "formal_logic",
        "high_school_european_history",
        "high_school_us_history",
        "high_school_world_history",
        "international_law",
        "jurisprudence",
        "logical_fallacies",
        "moral_disputes",
        "moral_scenarios",
        "philosophy",
        "prehistory",
        "professional_law",
        "world_religions",
    }
)
SOCIAL_SCIENCES = frozenset(
    {
        "econometrics",
        "high_school_geography",
        "high_school_government_and_politics",
        "high_school_macroeconomics",
        "high_school_microeconomics",
        "high_school_psychology",
        "human_sexuality",
        "professional_psychology",
        "public_relations",
        "security_studies",
        "sociology",
        "us_foreign_policy",
    }
)


def group(subject: str) -> str:
    """`stem`, `humanities`, `social_sciences` or `other` (business, health, misc.)."""
    if subject in STEM:
        return "stem"
    if subject in HUMANITIES:
        return "humanities"
    return "social_sciences" if subject in SOCIAL_SCIENCES else "other"
