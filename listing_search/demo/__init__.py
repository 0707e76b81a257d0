"""The demo: Inside Airbnb data shipped with the package, its importer to Flex-shaped events, and
the feed into intake."""
