"""The one exception type of the data layer."""


class DataError(ValueError):
    """Bad data-layer input: an invalid generator option, a malformed or missing sequence folder.

    The message names what was wrong (option or file, expected and found values).
    """
