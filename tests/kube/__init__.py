"""A Kubernetes API server for tests: the real client talks HTTP to it, and it answers like a real one."""
