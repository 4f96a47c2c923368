"""LoyalTill's pure domain core.

Everything here is pure: no I/O, no clocks, no randomness of its own, and no imports of
the frameworks the adapters use (textual, fastapi, sqlalchemy, httpx, serial, escpos).
The till and the sync server both run this code, which is what makes a receipt and the
master ledger agree (docs/design.md, invariant 5).
"""
