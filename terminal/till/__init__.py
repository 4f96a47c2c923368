"""The till application core: basket, cashier actions, receipts."""
