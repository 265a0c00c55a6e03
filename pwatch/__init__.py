"""Precursor Watch: monitor marketplaces for fentanyl-precursor offers and audit takedowns."""

__version__ = "0.1.0"
