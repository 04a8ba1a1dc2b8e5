"""The ``rhograph`` command: one sub-command per verb, each a thin layer over the Python API."""
