"""Trove gateway: the REST API, Firebase sign-in checks, and the signed-URL blob endpoint."""
