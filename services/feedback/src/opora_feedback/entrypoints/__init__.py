"""feedback's HTTP entry points: the JSON API and the survey pages."""
