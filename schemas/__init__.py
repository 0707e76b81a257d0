"""The shared vocabulary: event and listing models, and the index layout.

Nothing here knows HTTP, Redis or Celery: both the writer (indexer) and the reader (search_api)
take field names and document shapes from this package, so they can never disagree.
"""
