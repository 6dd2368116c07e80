"""PyG layers for scene graph generation."""
__all__ = []
