"""mypy over the ROS-free core, as mypy.ini configures it (files, strictness, relaxed modules).

A cold run (fresh cache, torch's stubs included) takes about 16 s of CPU.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import REPO_ROOT


def test_mypy_clean(tmp_path: Path) -> None:
    config = REPO_ROOT / "mypy.ini"
    assert config.is_file()
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(config),
         "--cache-dir", str(tmp_path / "mypy_cache"), "--no-error-summary"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
