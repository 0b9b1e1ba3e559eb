"""The offline demo: ``manage.py demo`` builds what ``make demo`` serves (database, MusicCaps catalog, demo prior)
and serves the API. An app of its own because it drives every other one (catalog ingest, prior training, the
serving runtime) and none of them depends on it."""
