"""Background tasks: what each does, when (one schedule, read by Celery beat and the dev loops), and the Celery app."""
