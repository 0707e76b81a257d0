"""Plumbing shared by the indexer and the API: settings, client factories, local process launchers.

Imports nothing from the other packages; everything else may import it.
"""
