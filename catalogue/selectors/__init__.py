"""Reusable reads: counts the database maintains, category trees, product pages."""
