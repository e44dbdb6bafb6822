"""Qunbang's pure matching core: pydantic problem data in, a ``Result`` out."""
