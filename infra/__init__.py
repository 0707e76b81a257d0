"""Plumbing shared by every package: settings, client factories and time budgets, which engine and
Redis failures are passing (and the one backoff), Redis-kept histograms, local process launchers.

Imports nothing from the other packages; everything else may import it.
"""
