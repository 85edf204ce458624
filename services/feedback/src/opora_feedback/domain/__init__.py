"""feedback's pure domain: when a survey is issued, who gets the credit, and CSAT maths."""
