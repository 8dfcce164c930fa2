"""Benchmarks behind ``ness bench NAME``, one module each exposing ``register(subparsers)``.

Each measures the compared variants side by side in one run and prints a table (and JSON with
``--json``). They call the same functions as the nodes; nothing here is a separate implementation.
"""
