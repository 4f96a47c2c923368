"""The master points ledger: accounts, postings per journal entry, exceptions, rebuild."""
