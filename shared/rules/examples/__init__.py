"""Example program rules shipped as package data (load with importlib.resources)."""
