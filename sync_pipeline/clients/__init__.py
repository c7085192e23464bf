"""The edges: HTTP clients of DummyJSON and of Medusa's Admin API, and the pydantic models of
what crosses them."""
