"""Declaring parameters from one table: name, default, description, range, run-time changeable.

Every node declares all its parameters before creating publishers or subscriptions, each with a
description (shown by ``ros2 param describe``) and, for numbers, a range that ROS enforces.
Changes at run time pass through the node's own validation, which says why it refuses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    SetParametersResult,
)
from rclpy.node import Node
from rclpy.parameter import Parameter


@dataclass(frozen=True)
class ParamSpec:
    name: str
    default: Any
    description: str
    low: float | None = None
    high: float | None = None
    dynamic: bool = False  # may change at run time (`ros2 param set`)


def declare(node: Node, specs: Iterable[ParamSpec]) -> dict[str, Any]:
    """Declare ``specs`` on ``node``; returns their current values by name."""
    values = {}
    for spec in specs:
        descriptor = ParameterDescriptor(description=spec.description,
                                         read_only=not spec.dynamic)
        if spec.low is not None and isinstance(spec.default, bool) is False:
            if isinstance(spec.default, int):
                descriptor.integer_range = [IntegerRange(from_value=int(spec.low),
                                                         to_value=int(spec.high), step=1)]
            elif isinstance(spec.default, float):
                descriptor.floating_point_range = [FloatingPointRange(
                    from_value=float(spec.low), to_value=float(spec.high), step=0.0)]
        values[spec.name] = node.declare_parameter(spec.name, spec.default, descriptor).value
    return values


def on_change(node: Node, apply: Callable[[dict[str, Any]], str | None]) -> None:
    """Route run-time parameter changes to ``apply(changes)``, which applies them or returns
    the reason for refusing (then nothing changes)."""

    def callback(params: list[Parameter]) -> SetParametersResult:
        changes = {p.name: p.value for p in params}
        try:
            reason = apply(changes)
        except ValueError as exc:
            reason = str(exc)
        return SetParametersResult(successful=reason is None, reason=reason or "")

    node.add_on_set_parameters_callback(callback)
