"""notifications' adapters: MongoDB storage, SMTP delivery, Jinja2 templates."""
