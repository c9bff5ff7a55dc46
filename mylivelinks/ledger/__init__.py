"""The double-entry ledger: accounts, transfers, the purchase state machine and reconciliation."""
