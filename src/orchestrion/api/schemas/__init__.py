"""Request bodies, as pydantic models with the wire's camelCase names."""
