"""sla's HTTP entry points."""
