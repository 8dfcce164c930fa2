"""A ROS domain of one's own: which ROS_DOMAIN_ID a graph started by ness_ros (or a test run)
uses, and discovery kept on this host. ROS-free; read before rclpy is imported.

Two graphs on one domain see each other's topics: two ``ness demo`` runs on a host would score
each other's masks. A domain is taken when a DDS participant on this host listens on one of its
unicast discovery ports (the RTPS well-known ports: 7400 + 250 * domain + 10 + 2 * participant,
which Fast DDS binds exclusively, moving on to the next when one is taken), which a bind attempt
finds out.

Frames of 640 x 480 and more need one more thing with Fast DDS, ROS 2's default middleware: its
built-in transports lose most best-effort frames of that size on one host (see
``config/fastdds_large_frames.xml``); a graph started here gets that profile unless
FASTDDS_DEFAULT_PROFILES_FILE is set or another middleware is chosen.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Mapping
from pathlib import Path

#: Domains handed out: 0 is everyone's default; above 101 the ports reach Linux's ephemeral
#: range (32768 and up), where other programs' sockets may take them.
DOMAINS = range(1, 102)
#: Participants probed per domain (a graph has a handful; the first ones hold the low ids).
PROBED_PARTICIPANTS = 20


#: Sockets holding the domains this process reserved (see :func:`free_domain_id`).
_RESERVED: list[socket.socket] = []


def _port(domain: int, participant: int) -> int:
    """The RTPS metatraffic unicast port of ``participant`` in ``domain``."""
    return 7400 + 250 * domain + 10 + 2 * participant


def domain_in_use(domain: int) -> bool:
    """True when a DDS participant on this host (or a reservation) holds one of ``domain``'s
    discovery ports."""
    for participant in range(PROBED_PARTICIPANTS):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            try:
                sock.bind(("0.0.0.0", _port(domain, participant)))
            except OSError:
                return True
    return False


def free_domain_id(start: int | None = None, *, reserve: bool = True) -> int:
    """A ROS_DOMAIN_ID no participant on this host uses: the first free one of :data:`DOMAINS`
    from the domain ``start`` on, wrapping around (default start: derived from the process id,
    so that two programs starting at once search from different places).

    With ``reserve``, this process holds the domain's port of the last probed participant until
    it exits (DDS participants of the graph take the lower ones, and skip a taken port): a graph
    takes seconds to start its participants, and a second program choosing in the meantime
    would otherwise pick the same domain. Binding that port is the atomic step: of two programs
    that both found the domain free, one gets it and the other searches on.

    Raises:
        RuntimeError: every domain of :data:`DOMAINS` is taken.
    """
    first = (os.getpid() if start is None else start - DOMAINS[0]) % len(DOMAINS)
    for step in range(len(DOMAINS)):
        domain = DOMAINS[(first + step) % len(DOMAINS)]
        if domain_in_use(domain):
            continue
        if not reserve:
            return domain
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind(("0.0.0.0", _port(domain, PROBED_PARTICIPANTS - 1)))
        except OSError:
            sock.close()
            continue
        _RESERVED.append(sock)
        return domain
    raise RuntimeError(f"every ROS_DOMAIN_ID from {DOMAINS[0]} to {DOMAINS[-1]} is in use on "
                       "this host; set ROS_DOMAIN_ID")


#: The Fast DDS profile for large frames, in the source tree and where the package installs it.
FASTDDS_PROFILE = "fastdds_large_frames.xml"


def fastdds_profile() -> Path | None:
    """The packaged Fast DDS profile for large frames (None when it cannot be found)."""
    for folder in (Path(__file__).resolve().parent.parent / "config",
                   Path(sys.prefix) / "share" / "ness_ros" / "config"):
        if (folder / FASTDDS_PROFILE).is_file():
            return folder / FASTDDS_PROFILE
    return None


def isolated_ros_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables that keep a graph to itself: ROS_DOMAIN_ID as set in ``environ`` (default
    ``os.environ``), else a free one, and discovery on this host unless
    ROS_AUTOMATIC_DISCOVERY_RANGE is set; with Fast DDS (RMW_IMPLEMENTATION unset or
    rmw_fastrtps_*) and no FASTDDS_DEFAULT_PROFILES_FILE, the packaged large-frames profile."""
    environ = os.environ if environ is None else environ
    domain = environ.get("ROS_DOMAIN_ID") or str(free_domain_id())
    env = {"ROS_DOMAIN_ID": domain,
           "ROS_AUTOMATIC_DISCOVERY_RANGE": environ.get("ROS_AUTOMATIC_DISCOVERY_RANGE",
                                                        "LOCALHOST")}
    fast_dds = environ.get("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp").startswith("rmw_fastrtps")
    profile = fastdds_profile()
    if fast_dds and profile is not None:
        env["FASTDDS_DEFAULT_PROFILES_FILE"] = environ.get("FASTDDS_DEFAULT_PROFILES_FILE",
                                                           str(profile))
    return env


def isolate_this_process() -> dict[str, str]:
    """Put :func:`isolated_ros_env` into ``os.environ`` (before rclpy is imported, for this
    process and the ones it starts) and return it."""
    env = isolated_ros_env()
    os.environ.update(env)
    return env
