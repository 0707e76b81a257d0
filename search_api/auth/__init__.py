"""Credentials: the operator token, and anonymous tokens for the Flex SDK."""
