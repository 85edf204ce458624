"""notifications' HTTP entry points."""
