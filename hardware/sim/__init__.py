"""Simulated hardware for the demo and the tests: a pty serial scanner, a TCP ESC/POS printer."""
