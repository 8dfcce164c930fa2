"""Graphs keep to a ROS domain of their own: how a free ROS_DOMAIN_ID is found, and two
``ness demo`` runs at once on one host, each scoring only its own masks."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys

import pytest

from helpers.scores import miou_of, scored_pixels
from helpers.tiny_models import tiny_model_file
from ness_ros.domain import (
    DOMAINS,
    domain_in_use,
    fastdds_profile,
    free_domain_id,
    isolated_ros_env,
)

FRAMES = 60  # 3 s at 20 Hz


def test_a_domain_whose_discovery_port_is_taken_is_skipped():
    start = free_domain_id(start=77, reserve=False)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("0.0.0.0", 7400 + 250 * start + 10 + 2 * 3))  # as a 4th participant would
        assert domain_in_use(start)
        chosen = free_domain_id(start=start, reserve=False)
        assert chosen != start and chosen in DOMAINS
    assert not domain_in_use(start)
    assert free_domain_id(start=DOMAINS[-1] + 1, reserve=False) == \
        free_domain_id(start=DOMAINS[0], reserve=False)  # wraps around


def test_a_reserved_domain_is_not_handed_out_again():
    """Two programs choosing before either graph has started: the second gets another."""
    first = free_domain_id(start=55)
    assert domain_in_use(first)  # held by this process until it exits
    assert free_domain_id(start=first) != first


def test_a_domain_set_by_the_user_is_kept_and_discovery_stays_on_this_host():
    env = isolated_ros_env({"ROS_DOMAIN_ID": "42"})
    assert env["ROS_DOMAIN_ID"] == "42" and env["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
    assert isolated_ros_env({"ROS_AUTOMATIC_DISCOVERY_RANGE": "SUBNET"})[
        "ROS_AUTOMATIC_DISCOVERY_RANGE"] == "SUBNET"
    assert int(isolated_ros_env({})["ROS_DOMAIN_ID"]) in DOMAINS


def test_fast_dds_gets_the_large_frames_profile_unless_one_is_set_or_another_middleware():
    profile = fastdds_profile()
    assert profile is not None and "segment_size" in profile.read_text()
    assert isolated_ros_env({"ROS_DOMAIN_ID": "42"})["FASTDDS_DEFAULT_PROFILES_FILE"] == \
        str(profile)
    assert isolated_ros_env({"ROS_DOMAIN_ID": "42", "FASTDDS_DEFAULT_PROFILES_FILE": "/my.xml"})[
        "FASTDDS_DEFAULT_PROFILES_FILE"] == "/my.xml"
    assert "FASTDDS_DEFAULT_PROFILES_FILE" not in isolated_ros_env(
        {"ROS_DOMAIN_ID": "42", "RMW_IMPLEMENTATION": "rmw_cyclonedds_cpp"})


def playing_window(log: str) -> tuple[float, float]:
    """Wall times (s) at which the camera began and ended its pass, from its log lines."""
    times = {}
    for event in ("sequence ready", "sequence finished"):
        found = re.search(rf"\[INFO\] \[(\d+\.\d+)\] \[synthetic_camera\]: {event}", log)
        assert found, log[-2000:]
        times[event] = float(found.group(1))
    return times["sequence ready"], times["sequence finished"]


def test_two_demos_at_once_each_score_only_their_own_masks(tmp_path):
    """Both demos start together with no ROS_DOMAIN_ID set: each picks its own domain; on a
    shared one, each evaluator would also receive the other graph's masks (more than its
    camera's 60 frames, unmatched by stamp)."""
    model = tiny_model_file(tmp_path, "segsnn", width=96, height=64)
    env = {k: v for k, v in os.environ.items()
           if k not in ("ROS_DOMAIN_ID", "ROS_AUTOMATIC_DISCOVERY_RANGE")}
    env["NESS_CACHE_DIR"] = str(tmp_path / "cache")
    procs = {}
    for seed in (7, 8):
        cmd = [sys.executable, "-m", "ness_ros.cli.main", "demo", "--duration", "3",
               "--rate", "0.5", "--size", "96", "64", "--seed", str(seed), "--model",
               str(model), "--out", str(tmp_path / f"demo{seed}"), "--json",
               str(tmp_path / f"demo{seed}.json")]
        procs[seed] = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                       text=True, env=env)
    outputs = {}
    for seed, proc in procs.items():
        try:
            outputs[seed] = proc.communicate(timeout=300)[0]
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 0, outputs[seed][-4000:]
    domains = {seed: re.search(r"ROS_DOMAIN_ID (\d+), discovery LOCALHOST", out)
               for seed, out in outputs.items()}
    assert all(domains.values()), outputs
    assert domains[7].group(1) != domains[8].group(1)
    windows = [playing_window((tmp_path / f"demo{seed}" / "logs" / "synthetic_camera.log")
                              .read_text()) for seed in (7, 8)]
    assert max(w[0] for w in windows) < min(w[1] for w in windows), windows  # ran together
    for seed in (7, 8):
        report = json.loads((tmp_path / f"demo{seed}" / "report.json").read_text())
        assert 10 <= report["frames_evaluated"] <= FRAMES, report
        assert report["masks_received"] <= FRAMES, report
        assert report["masks_unmatched"] <= 2, report
        assert report["miou"] == pytest.approx(miou_of(report["confusion"]), abs=1e-9)
        assert scored_pixels(report["confusion"]) + report["unscored_pixels"] \
            == report["frames_evaluated"] * 96 * 64
