"""routing's adapters: MongoDB storage."""
