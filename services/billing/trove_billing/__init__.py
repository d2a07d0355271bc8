"""Trove billing service: users and tiers (quotas, the cost ledger and budgets come next)."""
