"""The demo store that ``make demo`` runs: seeded data plus the hardware simulators."""
