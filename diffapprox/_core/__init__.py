"""Foundation shared by every layer: the one error class, strict JSON and the verdict data model."""
