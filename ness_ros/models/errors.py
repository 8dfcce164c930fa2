"""The one exception type of the model layer."""


class ModelError(ValueError):
    """Bad model input or model file: missing or corrupt weights, a card that does not validate,
    tensors whose names, shapes or dtypes do not match the architecture, non-finite values,
    wrong input shapes or unknown options.

    The message is one line and names the file (where there is one) and what was wrong.
    """
