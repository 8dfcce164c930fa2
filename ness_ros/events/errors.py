"""The exceptions of the event layer: bad input (:class:`EventError`), and a rejected input
message with the kind it is counted under (:class:`InputError`)."""


class EventError(ValueError):
    """Bad event or image input: malformed bytes, out-of-range values, unknown encodings.

    The message always names what was wrong (field, expected and found values). Nodes catch it
    per message, count it in diagnostics and go on.
    """


class InputError(EventError):
    """A rejected input message (:mod:`ness_ros.events.stream`, the frame pipeline's stamp
    rules); ``kind`` is the reason's counter name (``"encoding"``, ``"duplicate_stamp"``...)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
