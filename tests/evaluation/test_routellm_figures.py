"""The shipped complexity model's figures, recomputed on the real data when it is present."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mecroute.complexity.model import CARD_FILE

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "routellm-mmlu"
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason=f"{DATA} is not on this machine")


def test_eval_router_on_the_test_split_beats_every_simple_baseline():
    output = subprocess.run(
        [
            sys.executable,
            "-m",
            "mecroute.local.cli",
            "eval-router",
            "--data",
            str(DATA),
            "--split",
            "test",
            "--json",
            "--bootstrap",
            "200",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    measured = json.loads(output)

    assert measured["rows"] == 4247
    # the figure the training run recorded in the model card
    assert measured["apgr"] == pytest.approx(
        json.loads(CARD_FILE.read_text())["test"]["apgr"], abs=1e-3
    )
    low, high = measured["apgr_95"]
    assert low < measured["apgr"] < high
    # better than prompt length and the data README's TF-IDF router (0.645), below the oracle
    assert measured["apgr"] > max(0.645, measured["prompt_length"]["apgr"])
    assert measured["random"]["apgr"] < measured["apgr"] < measured["oracle"]["apgr"]
