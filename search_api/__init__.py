"""The HTTP surface: FastAPI app, query parameters to query DSL, Flex-shaped responses.

May call the indexer's public functions (intake, status); the indexer never imports this package.
"""
