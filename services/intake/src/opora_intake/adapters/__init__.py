"""intake's adapters: MongoDB storage."""
