"""The sync server: FastAPI app, master ledger and HQ dashboard (built in issues 5 and 6)."""
