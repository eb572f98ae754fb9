"""Small configs for every transformers image-classification class: each builds offline in about a second.

:func:`small_config` shrinks widths, depths and the input side of the type's default config (the
architecture, its head and its forward stay the same); :func:`small_processor` is the type's own
image processor resized to that side. Nothing is downloaded: configs and processors are built from
their classes, weights are random.
"""
from __future__ import annotations

from typing import Any

SEEN_CLASSES = 1000  # as an ImageNet-1K head
TINY_VIT = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, image_size=32, patch_size=8)
TINY_VISION_TOWER = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
TINY_STAGES = dict(hidden_sizes=[8, 16, 24, 32], depths=[1, 1, 1, 1])
TINY_PYRAMID = dict(hidden_sizes=[8, 16, 24, 32], depths=[1, 1, 1, 1], num_attention_heads=[1, 1, 1, 1], mlp_ratios=[2, 2, 2, 2])
TINY_SWIN = dict(embed_dim=16, depths=[1, 1], num_heads=[1, 2], window_size=4, image_size=32, patch_size=4)

# model_type -> overrides of its default config. Types not here keep their defaults (at the side in SIDES).
SMALL: dict[str, dict[str, Any]] = {
    "beit": TINY_VIT,
    "bit": dict(embedding_size=32, hidden_sizes=[64, 64, 128, 128], depths=[1, 1, 1, 1], num_groups=8),
    "clip": dict(vision_config=dict(TINY_VISION_TOWER, image_size=32, patch_size=8)),
    "convnext": dict(TINY_STAGES, image_size=32),
    "convnextv2": dict(TINY_STAGES, image_size=32),
    "cvt": dict(embed_dim=[16, 32, 48], num_heads=[1, 2, 2], depth=[1, 2, 3]),  # stage i needs > i blocks (drop-path rates)
    "data2vec-vision": TINY_VIT,
    "deit": TINY_VIT,
    "dinat": dict(embed_dim=16, depths=[1, 1], num_heads=[1, 2], dilations=[[1], [1]], kernel_size=3, patch_size=4),
    "dinov2": dict(TINY_VISION_TOWER, image_size=32, patch_size=8),
    "dinov2_with_registers": dict(TINY_VISION_TOWER, image_size=32, patch_size=8, num_register_tokens=2),
    "donut-swin": TINY_SWIN,
    "efficientnet": dict(width_coefficient=0.25, depth_coefficient=0.3, hidden_dim=320, image_size=32),
    "focalnet": dict(embed_dim=16, depths=[1, 1], hidden_sizes=[32, 64], focal_levels=[2, 2], focal_windows=[3, 3],
                     image_size=32, patch_size=4),
    "hgnet_v2": dict(stem_channels=[3, 8, 16], stage_in_channels=[16, 16, 32, 32], stage_mid_channels=[8, 8, 16, 16],
                     stage_out_channels=[16, 32, 32, 64], stage_num_blocks=[1, 1, 1, 1], stage_numb_of_layers=[2, 2, 2, 2],
                     hidden_sizes=[16, 32, 32, 64], embedding_size=16),
    "hiera": dict(embed_dim=8, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1], image_size=[64, 64], hidden_size=64),
    "ijepa": dict(TINY_VISION_TOWER, image_size=32, patch_size=8),
    "imagegpt": dict(n_embd=32, n_layer=2, n_head=2, n_positions=64),
    "levit": dict(hidden_sizes=[16, 32, 48], num_attention_heads=[1, 2, 3], depths=[1, 1, 1], key_dim=[8, 8, 8],
                  down_ops=[["Subsample", 8, 1, 4, 2, 2], ["Subsample", 8, 2, 4, 2, 2]], image_size=64),
    "metaclip_2": dict(vision_config=dict(TINY_VISION_TOWER, image_size=32, patch_size=8)),
    "mobilenet_v1": dict(depth_multiplier=0.25, image_size=32),
    "mobilenet_v2": dict(depth_multiplier=0.25, image_size=32),
    "mobilevit": dict(hidden_sizes=[16, 24, 32], neck_hidden_sizes=[8, 8, 16, 16, 24, 24, 64], num_attention_heads=2,
                      image_size=64),
    "mobilevitv2": dict(width_multiplier=0.25, n_attn_blocks=[1, 1, 1], image_size=64),
    "perceiver": dict(num_latents=8, d_latents=32, num_self_attends_per_block=1, num_self_attention_heads=1,
                      num_cross_attention_heads=1, image_size=16),
    "poolformer": dict(TINY_STAGES),
    "pp_lcnet": dict(scale=0.25, class_expand=64),
    "pvt": dict(TINY_PYRAMID, image_size=32),
    "pvt_v2": dict(TINY_PYRAMID, image_size=32),
    "regnet": dict(embedding_size=8, hidden_sizes=[8, 16, 24, 32], depths=[1, 1, 1, 1], groups_width=8),
    "resnet": dict(embedding_size=8, hidden_sizes=[8, 16, 24, 32], depths=[1, 1, 1, 1], layer_type="basic"),
    "segformer": dict(TINY_PYRAMID, decoder_hidden_size=32),
    "shieldgemma2": dict(text_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=1,
                                          num_key_value_heads=1, head_dim=32, vocab_size=262208),
                         vision_config=dict(TINY_VISION_TOWER, image_size=32, patch_size=8), mm_tokens_per_image=4),
    "siglip": dict(vision_config=dict(TINY_VISION_TOWER, image_size=32, patch_size=8)),
    "siglip2": dict(vision_config=dict(TINY_VISION_TOWER, patch_size=8, num_patches=16)),
    "swiftformer": dict(depths=[1, 1, 1, 1], embed_dims=[8, 16, 24, 32], image_size=32),
    "swin": TINY_SWIN,
    "swinv2": TINY_SWIN,
    "textnet": dict(stem_out_channels=8, hidden_sizes=[8, 8, 16, 16, 32], depths=[1, 1, 1, 1],
                    conv_layer_kernel_sizes=[[[3, 3]], [[3, 3]], [[3, 3]], [[3, 3]]],
                    conv_layer_strides=[[1], [2], [2], [2]], image_size=[32, 32]),
    "timm_wrapper": dict(architecture="resnet18"),
    "vit": TINY_VIT,
    "vit_msn": TINY_VIT,
}
# Class name -> further overrides where one type's classes need different widths (Perceiver's input stems).
PER_CLASS: dict[str, dict[str, Any]] = {
    "PerceiverForImageClassificationLearned": dict(d_model=512),
    "PerceiverForImageClassificationFourier": dict(d_model=261),
    "PerceiverForImageClassificationConvProcessing": dict(d_model=322),
}
# model_type -> input side (pixels) the processor produces; 32 unless listed.
SIDES = {"hiera": 64, "levit": 64, "mobilevit": 64, "mobilevitv2": 64, "imagegpt": 8, "perceiver": 16, "timm_wrapper": 224,
         "swiftformer": 64, "siglip2": 32}
# model_type -> image processor class, where the auto mapping names none.
PROCESSORS = {"dinov2_with_registers": "BitImageProcessor", "hgnet_v2": "BitImageProcessor"}


def side(kind: str) -> int:
    """The input side used for ``kind``'s small model."""
    return SIDES.get(kind, 32)


def small_config(kind: str, class_name: str) -> Any:
    """The config of ``class_name`` (type ``kind``), shrunk, with ``SEEN_CLASSES`` named labels."""
    from transformers import AutoConfig

    labels = {i: f"seen class {i}" for i in range(SEEN_CLASSES)}
    overrides = {**SMALL.get(kind, {}), **PER_CLASS.get(class_name, {})}
    return AutoConfig.for_model(kind, id2label=labels, label2id={n: i for i, n in labels.items()}, **overrides)


def _resized(value: Any, pixels: int) -> dict[str, int]:
    """A processor's ``size`` / ``crop_size`` (a dict or transformers' ``SizeDict``) at ``pixels``, same keys."""
    get = value.get if isinstance(value, dict) else lambda key: getattr(value, key, None)
    return {key: pixels for key in ("height", "width", "shortest_edge") if get(key) is not None}


def small_processor(kind: str, model: Any) -> Any:
    """``kind``'s own image processor, built from its class, producing ``side(kind)``-pixel inputs."""
    import numpy as np
    import transformers
    from transformers.models.auto.image_processing_auto import IMAGE_PROCESSOR_MAPPING_NAMES

    if kind == "timm_wrapper":  # preprocessing comes from the timm model's pretrained_cfg
        return transformers.TimmWrapperImageProcessor(pretrained_cfg=model.timm_model.pretrained_cfg)
    names = IMAGE_PROCESSOR_MAPPING_NAMES.get(kind) or {"pil": PROCESSORS[kind]}
    cls = getattr(transformers, names.get("pil") or names["torchvision"])
    options: dict[str, Any] = {}
    if kind == "imagegpt":  # colour clusters: one token per cluster (vocab_size - 1 of them)
        options["clusters"] = np.random.default_rng(0).uniform(-1, 1, (model.config.vocab_size - 1, 3))
    if kind == "siglip2":
        options.update(patch_size=model.config.vision_config.patch_size, max_num_patches=model.config.vision_config.num_patches)
    default = cls(**options)
    sizes = {name: _resized(getattr(default, name), side(kind)) for name in ("size", "crop_size")
             if getattr(default, name, None) is not None}
    return cls(**options, **{name: size for name, size in sizes.items() if size})
