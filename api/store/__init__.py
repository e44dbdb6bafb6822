"""Storage: tables, engines and sessions, migrations."""
