"""One router per resource; every module here exports ``router`` and is included by the app."""
