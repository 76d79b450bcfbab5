"""The staff's and citizens' pages (Jinja2 templates in ``templates/``): one blueprint each."""
