"""Server-rendered pages for volunteers (``/v/…``) and staff (``/s/…``): Jinja templates, one
stylesheet, a little JavaScript, every asset served from ``/static``. Chinese first; the header's
language switch (``/lang/en``) sets a cookie, and for a signed-in user also stores the choice on
the account (``api.http.locale``)."""
