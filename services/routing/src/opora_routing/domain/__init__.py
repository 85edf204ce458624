"""routing's pure domain: which agent takes which ticket, and in what order tickets wait."""
