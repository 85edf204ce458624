"""notifications' pure domain: which message a fact calls for, and sending it exactly once."""
