"""Storage: tables (``tables``), statuses as enums (``statuses``), engines, sessions and
write locks (``db``), stamps of kept values (``stamps``), and Alembic migrations. May import
``api.settings`` and ``api.extras``; nothing above the database."""
