"""`mecroute registry validate FILE`: checks the model registry file a person edits."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mecroute.adapters.registry_file import DEFAULT_MODELS_FILE, RegistryFileError, load_registry


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    registry = commands.add_parser(
        "registry", help="check the model registry file (README: The model registry)"
    )
    actions = registry.add_subparsers(dest="registry_command", required=True)
    validate = actions.add_parser(
        "validate", help="check a registry file: every error names its line, entry and field"
    )
    validate.add_argument(
        "file",
        type=Path,
        nargs="?",
        default=DEFAULT_MODELS_FILE,
        help=f"the registry file (default: the shipped {DEFAULT_MODELS_FILE.name})",
    )


def run(args: argparse.Namespace) -> int:
    try:
        registry = load_registry(args.file)
    except RegistryFileError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        count = len(error.problems)
        print(f"{args.file}: {count} problem{'s' if count != 1 else ''}", file=sys.stderr)
        return 1
    print(f"{args.file}: {len(registry.models)} models, prices read on {registry.prices_read_on}")
    for entry in registry.models:
        where = entry.bedrock_model_id or entry.provider
        print(
            f"  {entry.model_id:<20} {','.join(entry.tiers):<11} {where:<40} "
            f"${entry.price_per_million_input_usd:g} in / "
            f"${entry.price_per_million_output_usd:g} out per million tokens"
        )
    return 0
