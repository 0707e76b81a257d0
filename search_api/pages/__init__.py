"""Pages served from package data (the storefront), with their assets and Content-Security-Policy."""
