"""The fault soak: tests/soak/engine.py; the full run is bench/soak.py, a slice test_soak.py."""
