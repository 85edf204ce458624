"""Opora routing service."""
