"""Messages: notifications written with the change they announce and sent later
(``notify``, ``outbox`` with back-off and resend), the background ticker that sends them and
expires offers (``ticker``), and leases so that one worker of a deployment runs it (``lease``)."""
