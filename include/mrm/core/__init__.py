"""The bottom room: small shared types every other room may use (metric results, object storage).

Imports nothing of mrm but :mod:`mrm.errors`."""
