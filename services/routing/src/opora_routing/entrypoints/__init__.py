"""routing's HTTP entry points."""
