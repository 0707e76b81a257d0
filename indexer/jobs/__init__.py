"""Job plumbing: job records (state, phase, progress) and renewed Redis leases."""
