"""Accounts: users (``users``), logins, tokens and their limits (``auth``), and the audit
log (``audit`` writes an entry, ``audit_log`` lists them)."""
