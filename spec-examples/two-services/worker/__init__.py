"""The worker service: `uvicorn worker.main:app`."""
