"""Zero-downtime rebuilds: the job, its gate with the workers, its source of rounds, and schema
changes that start one."""
