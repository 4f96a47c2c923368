"""Scanner and printer drivers and their simulators (built in issue 3)."""
