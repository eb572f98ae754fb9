"""Virtual features: what a head's photos would look like, drawn from its rows alone (no images)."""
from .features import nearest_row_cosine, scale_for_confidence, virtual_features
from .vmf import concentration_for_cosine, sample_vmf

__all__ = ["concentration_for_cosine", "nearest_row_cosine", "sample_vmf", "scale_for_confidence", "virtual_features"]
