"""Opora shared contracts and plumbing."""
