"""The ``till`` command line."""
