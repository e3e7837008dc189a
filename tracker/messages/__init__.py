"""Message texts: Jinja2 templates (Thai by default, English) rendered into what notifiers send."""
