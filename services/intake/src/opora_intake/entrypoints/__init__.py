"""intake's HTTP entry points."""
