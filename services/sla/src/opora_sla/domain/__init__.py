"""sla's pure domain: which targets a ticket gets, and what a reply or the clock does to them."""
