"""Opora notifications service."""
