"""Event intake, the stream worker, index lifecycle and jobs. Never imports search_api."""
