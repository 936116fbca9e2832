"""The device API, versioned under /api/v1."""
