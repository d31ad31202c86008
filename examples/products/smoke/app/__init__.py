"""The smoke service: a small FastAPI app the factory builds, tests and deploys (dry run)."""

VERSION = "0.1.0"
