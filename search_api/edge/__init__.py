"""What runs before a route: CORS, request limits, the Flex SDK's edge (tokens, Transit), rate limit, query timing."""
