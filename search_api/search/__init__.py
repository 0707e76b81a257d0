"""Public search: parameters, the parsed query, the query DSL, facets, the engine call, and the
503s of a sick engine."""
