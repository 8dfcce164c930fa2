"""The one exception type of the event layer."""


class EventError(ValueError):
    """Bad event or image input: malformed bytes, out-of-range values, unknown encodings.

    The message always names what was wrong (field, expected and found values). Nodes catch it
    per message, count it in diagnostics and go on.
    """
