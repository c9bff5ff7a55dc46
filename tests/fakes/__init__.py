"""In-process fakes of third-party services, for the test suite."""
