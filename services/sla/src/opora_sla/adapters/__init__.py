"""sla's adapters: MongoDB storage, the heap timer scheduler, the policy files."""
