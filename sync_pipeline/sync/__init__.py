"""The sync core, with no Dagster in it: map source records (``mapping``), decide what changed
(``changes``, ``page_plan``), build Medusa's bodies (``payloads``), then write (``upsert`` through
``product_lookup``, ``taxonomy``, ``product_writer``, ``inventory``), set up the store
(``store_setup``), archive what vanished (``archival``), one sync at a time (``locking``)."""
