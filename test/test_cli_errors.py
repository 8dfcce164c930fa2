"""``ness``'s errors: whichever layer refused, one line on stderr naming the command, and the
exit status (2: the command line cannot be run as written; 1: what it asked for failed); an
error of no layer (a bug) keeps its traceback."""

from __future__ import annotations

import pytest

from ness_ros.bench.errors import BenchError
from ness_ros.cli.errors import USAGE, CliError, option_errors
from ness_ros.cli.main import build_parser, command_words, exit_status, main


def test_a_benchmark_option_out_of_range_is_a_usage_error(capsys):
    assert main(["bench", "latency", "--repeats", "0"]) == USAGE
    assert capsys.readouterr().err == "ness bench latency: --repeats must be >= 1, got 0\n"


def test_a_bag_layer_error_is_one_line_and_status_1(tmp_path, capsys):
    missing = tmp_path / "no_bag"
    assert main(["bag", "info", str(missing)]) == 1
    assert capsys.readouterr().err == (f"ness bag info: {missing} is not a rosbag2 folder "
                                       "(no metadata.yaml)\n")


def test_a_missing_argument_of_bag_import_is_a_usage_error(tmp_path, capsys):
    assert main(["bag", "import", "dsec", str(tmp_path)]) == USAGE
    err = capsys.readouterr().err
    assert err.startswith("ness bag import: give the recording and the bag") and \
        err.count("\n") == 1


def test_statuses_and_command_words():
    assert exit_status(CliError("x")) == 1 and exit_status(CliError("x", USAGE)) == USAGE
    assert exit_status(BenchError("x")) == USAGE
    assert exit_status(ValueError("x")) is None and exit_status(KeyError("x")) is None
    parser = build_parser()
    assert command_words(parser, ["bag", "import", "dsec", "bag"]) == ["bag", "import"]
    assert command_words(parser, ["bench", "latency", "--repeats", "0"]) == ["bench", "latency"]
    assert command_words(parser, ["demo", "--mode", "events"]) == ["demo"]


def test_option_errors_turn_a_value_error_into_a_cli_error_of_the_status():
    with pytest.raises(CliError) as caught, option_errors(USAGE):
        raise ValueError("theta must be >= 0")
    assert str(caught.value) == "theta must be >= 0" and caught.value.status == USAGE
    with pytest.raises(CliError) as caught, option_errors(USAGE):
        raise CliError("kept", 1)
    assert caught.value.status == 1
    with pytest.raises(KeyError), option_errors():
        raise KeyError("a bug")
