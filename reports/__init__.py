"""Disclosure control and the report builder (HTML and PDF, in Swedish)."""
