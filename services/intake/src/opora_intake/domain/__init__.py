"""intake's pure domain: how an inbound message becomes a ticket or joins one."""
