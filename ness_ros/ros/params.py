"""Declaring parameters from one table: name, default, description, range, run-time changeable.

Every node declares all its parameters before creating publishers or subscriptions, each with a
description (shown by ``ros2 param describe``) and, for numbers, a range that ROS enforces.
Changes at run time pass through the node's own validation, which says why it refuses.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    SetParametersResult,
)
from rclpy.exceptions import (
    InvalidParameterTypeException,
    InvalidParameterValueException,
    ParameterException,
)
from rclpy.node import Node
from rclpy.parameter import Parameter

from ness_ros.errors import ParameterError


@dataclass(frozen=True)
class ParamSpec:
    name: str
    default: Any
    description: str
    low: float | None = None
    high: float | None = None
    dynamic: bool = False  # may change at run time (`ros2 param set`)


def declare(node: Node, specs: Iterable[ParamSpec]) -> dict[str, Any]:
    """Declare ``specs`` on ``node``; returns their current values by name.

    Raises:
        ParameterError: a value given at start-up is out of the spec's range or of another type.
    """
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
        try:
            values[spec.name] = node.declare_parameter(spec.name, spec.default,
                                                       descriptor).value
        except ParameterException as exc:
            raise ParameterError(spec.name, _why(spec, exc)) from exc
    return values


def _why(spec: ParamSpec, exc: ParameterException) -> str:
    """rclpy's refusal of a start-up value, in the words of the other parameter errors."""
    text = str(exc.args[0]) if exc.args else str(exc)
    if isinstance(exc, InvalidParameterValueException) and spec.low is not None:
        value = re.search(r"value \((.*?)\) for parameter", text)
        got = f", got {value.group(1)}" if value else ""
        return f"must be in [{spec.low:g}, {spec.high:g}]{got}"
    if isinstance(exc, InvalidParameterTypeException):
        found = re.search(r"to '(.*)' of type '(\w+)', expecting type '(\w+)'", text)
        if found:
            value, got, expected = found.groups()
            return f"must be of type {expected.lower()}, got {value!r} ({got.lower()})"
    return text


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
