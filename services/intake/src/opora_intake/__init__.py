"""Opora intake service."""
