"""Opora sla service."""
