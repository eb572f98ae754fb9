"""A model on a GPU stays there: inject names into a CUDA model (any dtype) and run it.

The rows are computed on the CPU and written on the head's device and dtype; the seen logits do not
change. Runs on the CPU, with a note, where no CUDA GPU is present.

    python examples/gpu.py [--half]
"""
from __future__ import annotations

import argparse
import time

import torch

import inject
from inject.assets import load_demo_model

NAMES = ["okapi", "Laysan albatross", "sugar maple", "narwhal"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--half", action="store_true", help="run the model in float16 (GPU only)")
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        print("no CUDA GPU here: running on the CPU")
    dtype = torch.float16 if args.half and device == "cuda" else torch.float32
    model = load_demo_model().to(device=device, dtype=dtype)

    start = time.perf_counter()
    extended = inject.inject(model, NAMES)
    head = extended.get_classifier()
    print(f"injected {len(NAMES)} classes in {time.perf_counter() - start:.1f} s; head on {head.weight.device}, "
          f"{head.weight.dtype}, {head.out_features} outputs")

    x = torch.randn(8, 3, 224, 224, device=device, dtype=dtype)
    with torch.inference_mode():
        before, after = model(x), extended(x)
    print(f"seen logits unchanged: {torch.equal(before, after[:, :1000])} "
          f"(max |diff| {(before - after[:, :1000]).abs().max().item():.3g}); new outputs: {inject.labels(extended)[1000:]}")


if __name__ == "__main__":
    main()
