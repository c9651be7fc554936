"""Synthetic catalogues and the `manage.py benchmark` command; not part of the service image."""
