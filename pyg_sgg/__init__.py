"""pyg_sgg: scene graph generation as a PyTorch Geometric extension."""
__version__ = "0.1.0"
