"""The Serve panel: run the open model as a local REST endpoint."""
