"""The street's ledger: helpers and residents (``people``, ``views``), the service
catalogue, spreadsheet imports and exports (``imports``, ``import_rows``, ``import_columns``,
``sheets``, ``exports``), seeding a generated street (``seed``) and the demo database
(``demo``)."""
