"""Exception types that tell the consuming plumbing what to do with a failed record."""


class PermanentError(Exception):
    """Processing this record can never succeed: dead-letter it and move on."""
