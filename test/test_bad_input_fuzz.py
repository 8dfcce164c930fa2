"""``ness fuzz`` runs for the time asked, feeds every target and reports; a crash (anything
but EventError, or a broken contract) makes it exit with 1. The long run is not part of the
default suite: run ``ness fuzz --seconds 60``."""

from __future__ import annotations

import json

from ness_ros import fuzzing
from ness_ros.cli.main import main

TARGETS = {"decode_event_array", "EventPacketDecoder", "parse_event_packet", "Evt3Decoder",
           "LibcaerCmpDecoder", "LibcaerDecoder", "MonoDecoder", "decode_image_cdr",
           "EventStream.push (dvs)", "EventStream.push (packet)", "decode_frame"}


def test_a_short_run_reports_every_target_and_no_crash(tmp_path, capsys):
    path = tmp_path / "fuzz.json"
    assert main(["fuzz", "--seconds", "2", "--seed", "3", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "crashes: 0" in out and "CRASH" not in out
    report = json.loads(path.read_text())
    assert {row["target"] for row in report["targets"]} == TARGETS
    assert 1.9 < report["seconds"] < 10
    for row in report["targets"]:
        assert row["inputs"] >= 100 and row["crashes"] == 0, row
        assert row["refused (EventError)"] + row["accepted"] == row["inputs"]
    assert report["crashes"] == []


def test_a_crash_is_reported_with_its_input_and_exit_code_1(monkeypatch, capsys):
    real = fuzzing.make_targets

    def with_a_bug():
        targets = real()

        def buggy(data: bytes) -> None:
            if len(data) > 10:
                raise IndexError("planted bug")

        return {"planted": buggy, "decode_frame": targets["decode_frame"]}

    monkeypatch.setattr(fuzzing, "make_targets", with_a_bug)
    assert main(["fuzz", "--seconds", "0.5", "--seed", "1"]) == 1
    out = capsys.readouterr().out
    assert "CRASH in planted" in out and "IndexError: planted bug" in out
    assert "first input (" in out


def test_mutations_stay_valid_python_bytes():
    seeds = fuzzing.seed_messages()
    for ops in (b"", b"\x05\x00\x00\x07" * 3, bytes(range(24))):
        assert isinstance(fuzzing.mutate(seeds[0], ops, seeds[-1]), bytes)
