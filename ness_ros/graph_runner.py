"""Running a node graph as processes where ``ros2 launch`` is not available.

Each :class:`~ness_ros.graph.NodeSpec` becomes ``<prefix>/lib/<package>/<executable>
--ros-args ...``, exactly what ``ros2 run`` and launch_ros execute. Output goes to one log file per
node. The graph keeps to a ROS domain of its own (:func:`ness_ros.domain.isolated_ros_env`:
ROS_DOMAIN_ID when set, else a free one) and to this host. ROS-free (the nodes themselves import
rclpy).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from ness_ros.domain import isolated_ros_env
from ness_ros.graph import NodeSpec


def executable_path(spec: NodeSpec) -> Path:
    """The installed executable of ``spec`` found through the ament index."""
    from ament_index_python.packages import get_package_prefix

    path = Path(get_package_prefix(spec.package)) / "lib" / spec.package / spec.executable
    if not path.is_file():
        raise FileNotFoundError(f"{spec.package} has no executable {spec.executable} ({path})")
    return path


def start_process(command: Sequence[str], log_path: Path,
                  env: Mapping[str, str] | None = None) -> subprocess.Popen:
    """Start ``command`` with its output (stdout and stderr) in ``log_path``, in a session of its
    own (a Ctrl-C at the terminal reaches the caller only, which stops it in order)."""
    log = open(log_path, "w")  # noqa: SIM115 - closed with the process by the OS
    return subprocess.Popen(list(command), stdout=log, stderr=subprocess.STDOUT,
                            env=None if env is None else dict(env), start_new_session=True)


def stop_processes(processes: Iterable[subprocess.Popen], timeout: float) -> None:
    """SIGINT every process still running (a node's clean stop), then SIGKILL what is left
    after ``timeout`` seconds."""
    processes = list(processes)
    for proc in processes:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    deadline = time.monotonic() + timeout
    for proc in processes:
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class GraphProcesses:
    """Starts, watches and stops the processes of a graph (a context manager).

    The processes get ``os.environ``, the variables of :func:`~ness_ros.domain.isolated_ros_env`
    (its domain in :attr:`domain_id`) and then ``env``. Each one's output goes to
    ``log_dir/<name>.log``, or to the file ``log_files`` gives for its name.
    """

    def __init__(self, specs: Sequence[NodeSpec], log_dir: Path,
                 env: dict[str, str] | None = None,
                 log_files: Mapping[str, Path] | None = None) -> None:
        self.specs = list(specs)
        self.log_dir = Path(log_dir)
        self.log_files = dict(log_files or {})
        self.env = {**os.environ, **isolated_ros_env(), **(env or {})}
        self.domain_id = int(self.env["ROS_DOMAIN_ID"])
        self.processes: dict[str, subprocess.Popen] = {}

    def command(self, spec: NodeSpec) -> list[str]:
        if spec.command:  # not a node of the package (ros2 bag play): run as it is
            return list(spec.command)
        return [str(executable_path(spec)), *spec.ros_args()]

    def log_path(self, name: str) -> Path:
        return Path(self.log_files.get(name, self.log_dir / f"{name}.log"))

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for spec in self.specs:
            self.processes[spec.name] = start_process(self.command(spec),
                                                      self.log_path(spec.name), self.env)

    def log_text(self, name: str) -> str:
        path = self.log_path(name)
        return path.read_text(errors="replace") if path.exists() else ""

    def wait(self, name: str, timeout: float) -> int | None:
        """Exit code of ``name`` once it ended, or None if it runs past ``timeout`` seconds."""
        try:
            return self.processes[name].wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def failed(self) -> dict[str, int]:
        """Processes that already ended with a non-zero code."""
        return {name: p.returncode for name, p in self.processes.items()
                if p.poll() is not None and p.returncode != 0}

    def stop(self, timeout: float = 5.0) -> dict[str, int]:
        """SIGINT every process still running, then SIGKILL what is left after ``timeout``."""
        stop_processes(self.processes.values(), timeout)
        return {name: p.returncode for name, p in self.processes.items()}

    def __enter__(self) -> GraphProcesses:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


#: Seconds the node processes take to start (imports, model load, warm-up, discovery) on a
#: 2-core machine: about 8 before the first frame in ``make demo``. For progress bars only.
STARTUP_S = 8.0


def run_until_source_ends(specs: Sequence[NodeSpec], out: Path, budget_s: float, *,
                          expected_s: float | None = None, source: str = "synthetic_camera",
                          desc: str = "graph", report_name: str = "report.json") -> dict | None:
    """Run ``specs`` until the ``source`` node exits (it ends after its sequence), stop the
    graph, and return the JSON report the evaluator wrote to ``out`` (None on failure, with the
    failing node's log printed). ``budget_s`` bounds the wait; the progress bar counts seconds
    towards ``expected_s`` (start-up included), or towards the budget when not given. A
    synthetic ``source`` is made to play once (``loop`` false), else the run would never end."""
    from tqdm import tqdm

    for spec in specs:
        if spec.name == source and spec.executable == "synthetic_camera":
            spec.parameters["loop"] = False

    report_path = out / report_name
    if report_path.exists():
        report_path.unlink()
    with GraphProcesses(specs, out / "logs", env={"PYTHONUNBUFFERED": "1"}) as graph:
        print(f"{desc}: ROS_DOMAIN_ID {graph.domain_id}, discovery "
              f"{graph.env['ROS_AUTOMATIC_DISCOVERY_RANGE']}", flush=True)
        started, code = time.monotonic(), None
        with tqdm(total=int(expected_s or budget_s), desc=desc, unit="s", leave=False) as bar:
            while code is None and time.monotonic() - started < budget_s:
                code = graph.wait(source, timeout=1.0)
                bar.update(1)
                if graph.failed():
                    break
        failed = graph.failed()
        time.sleep(1.0)  # the last masks are still on their way
    if failed or code is None:
        for name in failed or [source]:
            print(f"--- {name} log ---\n{graph.log_text(name)[-3000:]}")
        print(f"{desc}: the graph did not complete")
        return None
    if not report_path.exists():
        print(f"{desc}: no report; evaluator log:\n{graph.log_text('segmentation_evaluator')}")
        return None
    return json.loads(report_path.read_text())
