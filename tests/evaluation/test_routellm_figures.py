"""The shipped complexity model's figures, recomputed on the real data when it is present."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mecroute.complexity.model import CALIBRATION_FILE

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "routellm-mmlu"
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason=f"{DATA} is not on this machine")


def test_eval_router_reproduces_the_model_card():
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
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    measured = json.loads(output)
    card = json.loads(CALIBRATION_FILE.read_text())["test"]

    assert measured["rows"] == 4247
    assert measured["apgr"] == pytest.approx(card["apgr"], abs=1e-3)
    assert measured["cpt50"] == card["cpt50"]
    assert measured["cloud_share_for_95"] == card["cloud_share_for_95"]
    # beats every reference router of the data README
    assert measured["apgr"] > 0.674
    assert measured["random"]["apgr"] < measured["apgr"] < measured["oracle"]["apgr"]
