"""Gifts: the catalog and sending a gift (priced on its target, booked in one statement)."""
