"""The demo: synthetic scoring logs with documented incidents, a local S3 stand-in, and a runner."""
