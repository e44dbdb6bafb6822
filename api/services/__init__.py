"""Service functions: everything that reads or writes the database. Routes and CLI call these."""
