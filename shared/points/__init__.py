"""Points over time: lots and expiry (:mod:`shared.points.lots`), tier qualification and
reviews (:mod:`shared.points.tiers`). Pure functions over values; the server's ledger and the
till's display both run them (docs/design.md, invariant 5)."""
