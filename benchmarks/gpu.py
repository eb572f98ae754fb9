"""The demo model on a CUDA GPU: injection time beside the CPU, and how exactly the seen logits survive.

* all of ImageNet-21K (``named_set("imagenet21k")``, 20,844 synsets, no text encoding) injected into
  the demo EfficientNet-Lite0 on the GPU and into a CPU copy: wall seconds of each, the largest logit
  difference between the two extended models, and whether their top-5 agree;
* for 5 / 100 / 1000 / 20,844 new classes: the extended head's seen logits on the GPU against the
  original head's, on the same pre-logits of 32 random inputs (float32). A wider matrix can make
  cuBLAS pick another kernel, which sums in another order.

    python -m benchmarks.gpu        # needs a CUDA GPU
"""
from __future__ import annotations

import copy
import time

import torch

from inject import assets, inject
from inject.knowledge.sets import model_wnids, named_set

COUNTS = (5, 100, 1000, 20844)


def timed_inject(model: torch.nn.Module, lines: list[str]) -> tuple[torch.nn.Module, float]:
    """(``model`` extended by ``lines``, wall seconds)."""
    start = time.perf_counter()
    extended = inject(model, lines, progress=False)
    if next(model.parameters()).is_cuda:
        torch.cuda.synchronize()
    return extended, time.perf_counter() - start


@torch.inference_mode()
def gpu_against_cpu(lines: list[str], x: torch.Tensor) -> None:
    """Inject ``lines`` into the demo model on the GPU and on the CPU; print seconds and agreement."""
    on_cpu = assets.load_demo_model()
    on_gpu = copy.deepcopy(on_cpu).cuda()
    gpu_model, gpu_s = timed_inject(on_gpu, lines)
    cpu_model, cpu_s = timed_inject(on_cpu, lines)
    gpu_logits, cpu_logits = gpu_model(x.cuda()).cpu(), cpu_model(x)
    print(f"{len(lines)} synsets: GPU {gpu_s:.1f} s, CPU {cpu_s:.1f} s; max |GPU - CPU| logit "
          f"{(gpu_logits - cpu_logits).abs().max():.3g}; same top-5: {torch.equal(gpu_logits.topk(5).indices, cpu_logits.topk(5).indices)}")


@torch.inference_mode()
def seen_exactness(lines: list[str], x: torch.Tensor) -> None:
    """Seen logits of the extended head against the original head on the GPU, per number of new classes."""
    model = assets.load_demo_model().cuda()
    features = model.forward_head(model.forward_features(x.cuda()), pre_logits=True)
    original = model.classifier(features)
    print(f"float32 matmul TF32 allowed: {torch.backends.cuda.matmul.allow_tf32}")
    for count in COUNTS:
        seen = inject(model, lines[:count], progress=False).classifier(features)[:, : original.shape[1]]
        diff = (seen - original).abs().max().item()
        print(f"{count:6d} new classes: seen logits bit-identical {torch.equal(seen, original)}, max |diff| {diff:.3g}, "
              f"same top-1 {torch.equal(seen.argmax(1), original.argmax(1))}")


def main() -> None:
    if not torch.cuda.is_available():
        raise SystemExit("benchmarks.gpu needs a CUDA GPU")
    print(torch.cuda.get_device_name(), "torch", torch.__version__)
    lines = named_set("imagenet21k", exclude=model_wnids(None))
    x = torch.randn(32, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    gpu_against_cpu(lines, x)
    seen_exactness(lines, x)


if __name__ == "__main__":
    main()
