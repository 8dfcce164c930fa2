"""Start-up and stop of the nodes in their own processes: a missing or corrupt model file (or
an unknown executor) ends the hybrid node with exactly one ``[FATAL]`` line and exit code 1, and
so does a bad parameter value in each of the five nodes, the line naming the parameter; SIGINT
and SIGTERM each end the hybrid node cleanly (exit code 0) within 2 s, while it is busy with a
stream of frames and events."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time

import pytest
import rclpy
from test_faults_support import NodeDriver

from helpers.ros_graph import start_node
from helpers.tiny_models import tiny_model_file
from ness_ros.graph import NodeSpec


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return tiny_model_file(tmp_path_factory.mktemp("model"), base_width=8)


def broken_models(model, folder):
    """name -> (model parameter, text the FATAL line must hold)."""
    cases = {"missing": (folder / "nowhere" / "segsnn.safetensors", "model card not found")}
    only_card = folder / "only_card"
    only_card.mkdir()
    shutil.copy(model.with_suffix(".json"), only_card / "m.json")
    cases["weights_missing"] = (only_card / "m.safetensors", "weights file not found")
    corrupt = folder / "corrupt"
    corrupt.mkdir()
    shutil.copy(model.with_suffix(".json"), corrupt / "m.json")
    (corrupt / "m.safetensors").write_bytes(model.read_bytes()[:200] + b"\x00garbage\n" * 50)
    cases["weights_corrupt"] = (corrupt / "m.safetensors", "SHA-256 does not match")
    unsigned = folder / "unsigned"
    unsigned.mkdir()
    card = json.loads(model.with_suffix(".json").read_text())
    card["weights_sha256"] = ""  # no checksum: the safetensors parser itself must refuse it
    (unsigned / "m.json").write_text(json.dumps(card))
    (unsigned / "m.safetensors").write_bytes(b"\xff" * 8 + b"{not json\nat all" * 10)
    cases["weights_garbage"] = (unsigned / "m.safetensors", "corrupt safetensors file")
    bad_card = folder / "bad_card"
    bad_card.mkdir()
    shutil.copy(model, bad_card / "m.safetensors")
    (bad_card / "m.json").write_text('{"architecture": "segsnn",\n')
    cases["card_corrupt"] = (bad_card / "m.safetensors", "not valid JSON")
    return cases


def test_a_missing_or_corrupt_model_ends_the_node_with_one_fatal_line(model, tmp_path):
    cases = broken_models(model, tmp_path)
    procs = {}
    for name, (path, _) in cases.items():  # all at once: start-up is the slow part
        spec = NodeSpec("hybrid_segmentation", f"broken_{name}", [], {"model": str(path)})
        procs[name] = start_node(spec, tmp_path / f"{name}.log")
    bad_executor = NodeSpec("hybrid_segmentation", "bad_executor", [],
                            {"model": str(model), "executor": "multi_threaded"})
    procs["bad_executor"] = start_node(bad_executor, tmp_path / "bad_executor.log")
    cases["bad_executor"] = (model, "parameter executor: must be one of")
    for name, proc in procs.items():
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            pytest.fail(f"{name}: the node did not end")
        log = (tmp_path / f"{name}.log").read_text()
        fatal = [line for line in log.splitlines() if "[FATAL]" in line]
        assert code == 1, (name, code, log)
        assert len(fatal) == 1, (name, log)
        assert fatal[0].startswith("[FATAL] [hybrid_segmentation]: cannot start: "), fatal
        assert cases[name][1] in fatal[0], (name, fatal)
        if name != "bad_executor":
            assert str(cases[name][0].parent) in fatal[0], (name, fatal)  # names the file
        assert "Traceback" not in log, (name, log)


def wait_fatal(procs, tmp_path, timeout: float = 60.0) -> dict[str, tuple[int, str]]:
    """name -> (exit code, log) of processes started with ``start_node`` into
    ``tmp_path/<name>.log``; a process that does not end fails the test."""
    ended = {}
    for name, proc in procs.items():
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            pytest.fail(f"{name}: the node did not end")
        ended[name] = (code, (tmp_path / f"{name}.log").read_text())
    return ended


def test_a_bad_parameter_ends_each_node_with_one_fatal_line_naming_it(tmp_path):
    """One start-up path for the five nodes: whichever check refuses the value (the parameter
    table's range or type, the node's own), one line ``[FATAL] [<node>]: cannot start:
    parameter <name>: <why>``, exit code 1, no traceback, before any model is loaded."""
    cases = {  # executable -> (bad parameters, the parameter named, text of the reason)
        "hybrid_segmentation": ({"reuse": "sideways"}, "reuse", "must be one of static, warped"),
        "event_segmentation": ({"trigger": "never"}, "trigger", "must be one of period, frame"),
        "segmentation_evaluator": ({"overlay_count": 500}, "overlay_count",
                                   "must be in [0, 100], got 500"),
        "synthetic_camera": ({"width": "wide"}, "width",
                             "must be of type integer, got 'wide' (string)"),
        "bag_player": ({"bag": str(tmp_path / "nowhere")}, "bag", "nowhere"),
    }
    procs = {executable: start_node(NodeSpec(executable, f"bad_{executable}", [], params),
                                    tmp_path / f"{executable}.log")
             for executable, (params, _, _) in cases.items()}  # all at once
    for executable, (code, log) in wait_fatal(procs, tmp_path).items():
        _, name, why = cases[executable]
        fatal = [line for line in log.splitlines() if "[FATAL]" in line]
        assert code == 1, (executable, code, log)
        assert len(fatal) == 1, (executable, log)
        assert fatal[0].startswith(f"[FATAL] [{executable}]: cannot start: parameter {name}: "), \
            fatal
        assert why in fatal[0], (executable, fatal)
        assert "Traceback" not in log, (executable, log)


def test_sigint_and_sigterm_end_the_busy_node_cleanly_within_2_s(model, tmp_path):
    """With either executor: the node serves frames, then stops on the signal."""
    runs = ((signal.SIGINT, "events"), (signal.SIGTERM, "events"),
            (signal.SIGINT, "single_threaded"))
    signals = [signum for signum, _ in runs]
    rclpy.init()
    drivers = [NodeDriver(f"signal_{signum.name.lower()}_{executor}",
                          {"model": str(model), "executor": executor},
                          tmp_path / f"{signum.name}_{executor}.log")
               for signum, executor in runs]
    results = {}
    try:
        for driver in drivers:  # both nodes start at once
            driver.ready()
            driver.serve(2)
        for _ in range(5):  # frames keep coming while the signal arrives
            for driver in drivers:
                driver.next_frame()
            drivers[0].spin_until(lambda: False, 0.02)
        for signum, driver in zip(signals, drivers, strict=True):
            start = time.monotonic()
            driver.proc.send_signal(signum)
            code = driver.proc.wait(timeout=10)
            results[driver.name] = (code, time.monotonic() - start)
    finally:
        for driver in drivers:
            driver.node.destroy_node()
            if driver.proc.poll() is None:
                driver.proc.kill()
                driver.proc.wait()
        rclpy.shutdown()
    for (name, (code, elapsed)), driver in zip(results.items(), drivers, strict=True):
        assert code == 0, (name, driver.log())
        assert elapsed < 2.0, f"{name}: {elapsed:.2f} s to exit"
        assert "Traceback" not in driver.log(), name
