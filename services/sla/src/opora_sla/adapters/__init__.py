"""sla's adapters: MongoDB storage and the in-process timer scheduler."""
