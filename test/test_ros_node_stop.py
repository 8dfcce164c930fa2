"""Every node type of the graph stops cleanly however it is signalled, while it works.

A terminal's Ctrl-C sends SIGINT to every node and ``ros2 launch`` sends each a second one; a
service manager sends SIGTERM. The graphs of both modes (synthetic_camera, hybrid_segmentation or
event_segmentation, segmentation_evaluator) run as the launch file would start them, each process
on its own, each graph in a ROS domain of its own; once the evaluator scores masks, every node
gets SIGINT twice (20 ms or 200 ms apart: before and during its clean-up), or SIGTERM. Each must
exit with code 0, with nothing in its output of a traceback or an abort, and the evaluator must
still write its report. The same holds for a camera signalled while it generates its sequence.
"""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import pytest

from helpers.ros_graph import start_node, stop_node
from helpers.tiny_models import tiny_model_file
from ness_ros.data.cache import cached_sequence
from ness_ros.data.sequence import SequenceConfig
from ness_ros.domain import free_domain_id
from ness_ros.graph import NodeSpec, segmentation_graph
from ness_ros.graph_runner import GraphProcesses

SEED, W, H, SECONDS = 11, 96, 64, 3.0
BAD_OUTPUT = ("Traceback", "Fatal Python error", "terminate called", "KeyboardInterrupt")
MODES = ("hybrid", "events")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Tiny models of both modes and the sequence in a cache of the test's own."""
    folder = tmp_path_factory.mktemp("stop")
    cached_sequence(SEED, SequenceConfig(width=W, height=H, duration_s=SECONDS),
                    cache_dir=folder / "cache", progress=False)
    models = {"hybrid": tiny_model_file(folder, "segsnn", width=W, height=H),
              "events": tiny_model_file(folder, "evsegsnn", width=W, height=H)}
    return folder / "cache", models


def start_graphs(folder: Path, cache: Path, models: dict[str, Path]) -> dict[str, GraphProcesses]:
    """Both modes' graphs at once (start-up is the slow part), each on a free domain."""
    graphs, domain = {}, int(os.environ["ROS_DOMAIN_ID"])
    for mode in MODES:
        specs = segmentation_graph(mode=mode, model=str(models[mode]), seed=SEED,
                                   duration_s=SECONDS, report_dir=folder / mode / "report")
        for spec in specs:
            if spec.executable == "synthetic_camera":
                spec.parameters.update(width=W, height=H)  # loops: works until signalled
            if spec.executable == "segmentation_evaluator":
                spec.parameters["summary_period_s"] = 0.5
        domain = free_domain_id(start=domain + 1)
        graphs[mode] = GraphProcesses(specs, folder / mode / "logs", env={
            "ROS_DOMAIN_ID": str(domain), "NESS_CACHE_DIR": str(cache),
            "PYTHONUNBUFFERED": "1"})
        graphs[mode].start()
    return graphs


def frames_evaluated(graph: GraphProcesses) -> int:
    counts = re.findall(r"over (\d+) frames", graph.log_text("segmentation_evaluator"))
    return int(counts[-1]) if counts else 0


def wait_working(graphs: dict[str, GraphProcesses], timeout: float = 120.0) -> None:
    """Until every graph's evaluator has scored masks (so every node works)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for mode, graph in graphs.items():
            assert not graph.failed(), (mode, graph.failed(), all_logs(graph))
        if all(frames_evaluated(graph) >= 5 for graph in graphs.values()):
            return
        time.sleep(0.5)
    pytest.fail("no graph scored masks in time:\n" +
                "\n".join(all_logs(graph) for graph in graphs.values()))


def all_logs(graph: GraphProcesses) -> str:
    return "\n".join(f"--- {name} ---\n{graph.log_text(name)[-2000:]}"
                     for name in graph.processes)


@pytest.mark.parametrize("signals", ["sigint_twice", "sigterm"])
def test_every_node_exits_0_without_a_traceback(signals, setup, tmp_path):
    cache, models = setup
    graphs = start_graphs(tmp_path, cache, models)
    try:
        wait_working(graphs)
        for mode, graph in graphs.items():
            gap = 0.02 if mode == "hybrid" else 0.2
            for proc in graph.processes.values():
                proc.send_signal(signal.SIGTERM if signals == "sigterm" else signal.SIGINT)
            if signals == "sigint_twice":
                time.sleep(gap)
                for proc in graph.processes.values():
                    if proc.poll() is None:
                        proc.send_signal(signal.SIGINT)
        codes = {(mode, name): graph.wait(name, timeout=15.0)
                 for mode, graph in graphs.items() for name in graph.processes}
    finally:
        for graph in graphs.values():
            graph.stop(timeout=1.0)
    assert len(codes) == 6
    for (mode, name), code in codes.items():
        log = graphs[mode].log_text(name)
        assert code == 0, (mode, name, code, log[-3000:])
        bad = [marker for marker in BAD_OUTPUT if marker in log]
        assert not bad, (mode, name, bad, log[-3000:])
    for mode in MODES:
        report = tmp_path / mode / "report" / "report.json"
        assert report.is_file(), all_logs(graphs[mode])
        log = graphs[mode].log_text("segmentation_evaluator")
        where = re.escape(str(report.parent))
        assert re.search(rf"wrote report.json( and overlays.png)? to {where} ", log), log


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_camera_stopped_while_it_generates_its_sequence_exits_0_at_once(signum, tmp_path,
                                                                         monkeypatch):
    """Outside the spin (here: the minute of generating a sequence) the first signal interrupts
    the work; a second one (SIGINT: from the terminal, then from launch) changes nothing."""
    monkeypatch.setenv("NESS_CACHE_DIR", str(tmp_path / "cache"))  # empty: it must generate
    log = tmp_path / "camera.log"
    proc = start_node(NodeSpec("synthetic_camera", "synthetic_camera", [], {"seed": 5}), log)
    try:
        deadline = time.monotonic() + 60
        while "generating the sequence" not in log.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            time.sleep(0.1)
        time.sleep(0.5)  # well inside the generation (tens of seconds at 346 x 260)
        assert "sequence ready" not in log.read_text()
        start = time.monotonic()
        proc.send_signal(signum)
        if signum == signal.SIGINT:
            time.sleep(0.05)
            proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=10)
        elapsed = time.monotonic() - start
    finally:
        stop_node(proc, timeout=1.0)
    text = log.read_text()
    assert code == 0, text
    assert elapsed < 2.0, elapsed
    assert not [marker for marker in BAD_OUTPUT if marker in text], text
