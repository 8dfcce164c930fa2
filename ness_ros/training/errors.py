"""The one exception type of training."""

from __future__ import annotations

__all__ = ["TrainingError"]


class TrainingError(ValueError):
    """A training run that cannot start or went wrong: a setting it cannot use (an unknown
    model, class set or data set, a value out of range), or processes of a distributed run that
    ended out of step. The message names the setting, what it takes and what it got; ``ness
    train`` prints it as one line. Data files that cannot be read raise the data layer's
    :class:`~ness_ros.data.errors.DataError`, model files :class:`~ness_ros.models.errors.
    ModelError`."""
