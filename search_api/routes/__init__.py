"""HTTP routes: thin handlers, each calling one function of its capability."""
