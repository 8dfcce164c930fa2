"""``ness fuzz`` runs for the time asked, feeds every target and reports; a crash (anything
but EventError, or a broken contract) makes it exit with 1. The long run is not part of the
default suite: run ``ness fuzz --seconds 60``."""

from __future__ import annotations

import json
import struct

import pytest

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


DATA = bytes(range(10))
OTHER = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@pytest.mark.parametrize(("ops", "expected"), [
    (b"", DATA),
    (bytes([0, 3, 0, 0xAA]), b"\x00\x01\x02\xaa" + DATA[4:]),           # set a byte
    (bytes([1, 2, 0, 8]), DATA[:2] + struct.pack("<I", 2**31 - 1) + DATA[6:]),  # a u32
    (bytes([2, 1, 0, 7]), DATA[:1] + b"\x07" * 3 + DATA[1:]),            # insert 1 + 7 % 5
    (bytes([3, 4, 0, 9]), DATA[:4] + DATA[7:]),                          # delete 1 + 9 % 7
    (bytes([4, 6, 0, 0]), DATA[:6]),                                     # truncate
    (bytes([5, 2, 0, 30]), DATA[:2] + OTHER[3:17]),   # splice: other[30 % 27:][:8 + 30 % 24]
    (bytes([6, 0x0B, 0x01, 0xEE]), DATA[:3] + b"\xee" + DATA[4:]),  # kind 6 % 6, at 267 % 11
    # In order: the second edit is at 9 % 7 of the truncated 6 bytes; a 3-byte rest is ignored.
    (bytes([4, 6, 0, 0, 0, 9, 0, 1, 3, 0, 0]), DATA[:2] + b"\x01" + DATA[3:6]),
])
def test_each_mutation_does_exactly_its_edit(ops, expected):
    assert fuzzing.mutate(DATA, ops, OTHER) == expected
