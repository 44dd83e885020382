"""The `mecroute` command as a newcomer meets it: version, help, errors with their fix."""

import argparse
import socket
from pathlib import Path

import pytest

from mecroute.local.cli import _tidy, main, parser
from mecroute.local.cli_errors import CliError, explain


def subcommands(top: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in top._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("mecroute 0.")


def test_every_option_of_every_command_says_what_it_does() -> None:
    commands = subcommands(parser())
    checked = [*commands.values(), *subcommands(commands["registry"]).values()]
    for command in checked:
        for action in command._actions:
            if not isinstance(action, argparse._SubParsersAction):
                assert action.help, f"{command.prog}: {action.dest} has no help"


def test_a_busy_port_is_said_with_its_fix_before_anything_starts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"port {port} on 127.0.0.1 is already in use" in err
    assert "fix: pass another with --port" in err
    assert "Traceback" not in err


def test_a_missing_data_directory_is_said_with_its_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-such-data"
    code = main(["simulate", "--report", str(tmp_path / "out"), "--data", str(missing)])
    assert code == 2
    err = capsys.readouterr().err
    assert str(missing) in err
    assert "fix: check the path" in err


def test_an_unreachable_api_says_how_to_start_one() -> None:
    explained = explain(ConnectionRefusedError(111, "Connection refused"))
    assert isinstance(explained, CliError)
    assert "cannot reach the API" in explained.problem
    assert "mecroute serve" in explained.fix


def test_a_bug_keeps_its_traceback() -> None:
    assert explain(KeyError("primary")) is None


def test_answers_carry_no_float_noise() -> None:
    noisy = {"score": 0.1 + 0.2 + 0.1, "scores": [0.30000000000000004], "cost_usd": 1.25e-06}
    assert _tidy(noisy) == {"score": 0.4, "scores": [0.3], "cost_usd": 1.25e-06}
