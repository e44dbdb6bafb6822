"""Server-rendered pages for volunteers (``/v/…``) and staff (``/s/…``): Jinja templates, one
stylesheet, a little JavaScript, every asset served from ``/static``. Chinese first; ``/lang/en``
switches to English (a cookie)."""
