"""A one-service FastAPI app built into an image by strata."""
