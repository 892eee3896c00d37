"""The api service: `uvicorn api.main:app`."""
