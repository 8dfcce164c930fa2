"""The exception of the bag layer."""


class BagError(Exception):
    """A bag that cannot be written, read or evaluated; the message names the bag, topic or
    option at fault."""
