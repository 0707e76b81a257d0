"""The index in the engine: its lifecycle (template, versions, aliases), the live view, the schema
registry, document reads and writes, id-order scans."""
