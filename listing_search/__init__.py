"""The application shell: the `listing-search` command and the dev runner. Imports every package; none imports it."""
