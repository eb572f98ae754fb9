"""Write the embedded EfficientNet-Lite0 (real ImageNet-1K weights) to a timm-style safetensors file.

    python examples/export_demo_model.py efficientnet_lite0.safetensors
    inject-classes efficientnet_lite0.safetensors --classes new.txt
"""
import sys

from inject import save_model
from inject.assets import load_demo_model

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    save_model(load_demo_model(), sys.argv[1])
    print(f"wrote {sys.argv[1]}")
