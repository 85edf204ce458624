"""Opora feedback service."""
