"""The ``ness`` command line: every tool that is not a node, as ``ness VERB ...``."""
