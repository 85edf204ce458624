"""feedback's adapters: MongoDB storage and signed survey links."""
