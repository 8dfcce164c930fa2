"""The package is installed the ROS way: the ament index finds it, its files and executables."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import ament_index_python.packages as ament_index

from conftest import REPO_ROOT


def console_scripts() -> list[str]:
    """Names of the console scripts that setup.py declares (read without running it)."""
    tree = ast.parse((REPO_ROOT / "setup.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
                getattr(t, "id", None) == "CONSOLE_SCRIPTS" for t in node.targets):
            return [ast.literal_eval(e).split("=")[0].strip() for e in node.value.elts]
    raise AssertionError("setup.py declares no CONSOLE_SCRIPTS")


def test_ament_index_finds_package_and_files():
    assert "ness_ros" in ament_index.get_packages_with_prefixes()
    share = Path(ament_index.get_package_share_directory("ness_ros"))
    assert (share / "package.xml").is_file()
    for folder in ("launch", "config"):
        sources = [p.relative_to(REPO_ROOT) for p in (REPO_ROOT / folder).rglob("*") if p.is_file()]
        assert sources, f"{folder}/ is empty"
        for rel in sources:
            assert (share / rel).is_file(), f"{rel} is not installed in {share}"


def test_every_console_script_is_an_executable_in_lib():
    prefix = Path(ament_index.get_package_prefix("ness_ros"))
    names = console_scripts()
    assert "ness" in names
    for name in names:
        exe = prefix / "lib" / "ness_ros" / name
        assert exe.is_file() and os.access(exe, os.X_OK), f"missing executable {exe}"


#: Every verb of ``ness``, in the order ``ness --help`` lists them.
VERBS = ["bag", "bench", "data", "demo", "env", "eval", "fuzz", "train"]


def test_ness_help_lists_verbs():
    prefix = Path(ament_index.get_package_prefix("ness_ros"))
    out = subprocess.run([str(prefix / "lib" / "ness_ros" / "ness"), "--help"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    assert out.startswith("usage: ness [-h] VERB ...\n")
    verbs = out[out.index("\nverbs:\n"):]
    assert re.findall(r"^    (\w+)  ", verbs, re.M) == VERBS, out  # each with its summary


def test_ness_parser_builds_without_torch_numba_or_rclpy():
    """Verbs import their heavy dependencies when they run, so ``ness --help`` and argument
    errors come back in a fraction of a second rather than after loading torch (3 s) or numba
    (0.3 s)."""
    code = ("import sys; from ness_ros.cli.main import build_parser; build_parser(); "
            "print(sorted(m for m in ('torch', 'numba', 'rclpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert out.strip() == "[]"


def test_ness_env_reports_every_package_importable(tmp_path):
    out_json = tmp_path / "env.json"
    result = subprocess.run([sys.executable, "-m", "ness_ros.cli.main", "env", "--json",
                             str(out_json)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    import json
    rows = json.loads(out_json.read_text())["packages"]
    assert {r["package"] for r in rows} >= {"rclpy", "dvs_msgs", "event_camera_msgs",
                                            "vision_msgs", "torch", "snntorch"}
    assert all(r["status"] == "ok" for r in rows)


def test_colcon_test_runs_the_suite_with_pytest(tmp_path):
    """``colcon test`` on the package runs pytest over test/ (here one file of it): colcon
    counts its tests, as it does in a ROS 2 workspace."""
    venv = Path(sys.executable).parent.parent
    colcon = Path(sys.executable).parent / "colcon"
    env = {**os.environ, "AMENT_PREFIX_PATH": str(venv)}
    run = subprocess.run([str(colcon), "--log-base", str(tmp_path / "log"), "test", "--paths",
                          str(REPO_ROOT), "--build-base", str(tmp_path / "build"),
                          "--install-base", str(venv), "--merge-install", "--pytest-args",
                          "test/test_segmentation_online_eval.py"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    result = subprocess.run([str(colcon), "test-result", "--test-result-base",
                             str(tmp_path / "build")], capture_output=True, text=True, env=env)
    counted = [line for line in result.stdout.splitlines() if line.startswith("Summary:")]
    assert counted and counted[-1].startswith("Summary: 3 tests, 0 errors, 0 failures"), \
        result.stdout
