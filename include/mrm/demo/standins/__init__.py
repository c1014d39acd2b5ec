"""Local stand-ins of the services mrm delivers to, for the demo and the tests."""
