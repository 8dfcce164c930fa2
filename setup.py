"""ament_python build of ness_ros: installs the package, its ROS metadata and executables."""

from pathlib import Path

from setuptools import find_packages, setup

PACKAGE = "ness_ros"
HERE = Path(__file__).parent


def tree(folder: str) -> list[tuple[str, list[str]]]:
    """data_files entries that install every file under ``folder`` into share/ness_ros/."""
    entries: dict[str, list[str]] = {}
    for path in sorted((HERE / folder).rglob("*")):
        if path.is_file():
            rel = path.relative_to(HERE)
            entries.setdefault(f"share/{PACKAGE}/{rel.parent}", []).append(str(rel))
    return list(entries.items())


# Every node and tool; `ness` is the command line for everything that is not a node.
CONSOLE_SCRIPTS = [
    "ness = ness_ros.cli.main:main",
    "hybrid_segmentation = ness_ros.ros.hybrid_node:main",
    "event_segmentation = ness_ros.ros.event_node:main",
    "synthetic_camera = ness_ros.ros.synthetic_camera_node:main",
    "segmentation_evaluator = ness_ros.ros.evaluator_node:main",
    "bag_player = ness_ros.ros.bag_player_node:main",
]

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(include=[PACKAGE, f"{PACKAGE}.*"]),
    package_data={PACKAGE: ["weights/*.safetensors", "weights/*.json"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        *tree("launch"),
        *tree("config"),
    ],
    install_requires=["setuptools"],
    # colcon test runs pytest (not unittest) when the package declares it as its test extra.
    extras_require={"test": ["pytest"]},
    zip_safe=False,
    maintainer="ness_ros maintainers",
    maintainer_email="ness-ros@example.org",
    description="Neuromorphic semantic segmentation for ROS 2 with spiking neural networks.",
    license="Apache-2.0",
    entry_points={"console_scripts": CONSOLE_SCRIPTS},
)
