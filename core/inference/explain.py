"""Why did the model say "Romance"? Grad-CAM heat maps per label, and overlays to show them.

Hand-written Grad-CAM (Selvaraju et al., 2017) with torch hooks, so the installer gains no
dependency (no OpenCV, no matplotlib): a forward hook on the backbone's last
convolutional stage keeps its activations A (C x h x w); the gradient of one label's logit
with respect to A, averaged over space, weights the channels; ReLU(sum_c w_c A_c) is
upsampled to the image's size and scaled to [0, 1].

Vision transformers (CLIP, SigLIP) have no convolutional map: their last block's input
tokens (after its first LayerNorm, where every patch still feeds the pooled output) are laid
back on the patch grid and used as the map, the usual "reshape transform" for ViT Grad-CAM;
the map is coarse (one cell per patch).

Every backbone in `core.model.backbones` is supported (`TARGET_LAYERS`); another one raises
`BackboneUnavailable`. An `Explainer` registers its hooks only while it explains, but it
runs its own model: do not call it from two threads at once, nor while another thread
runs the same model object (the GUI's worker should own one, e.g. `Explainer.from_file`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from PIL import Image
from torch import nn

from core.base.device import resolve_device
from core.base.errors import BackboneUnavailable, UsageError
from core.data.decode import ImageSource, load_rgb
from core.data.image_open import read_rgb, upright
from core.inference.graph import graph_for
from core.model.classifier import MultiLabelClassifier
from core.model.preprocess import normalize
from core.modelfile.checkpoint import ModelMeta, load_model

# The backbone's submodule whose output is its last spatial feature map (before pooling).
TARGET_LAYERS: dict[str, str] = {
    "efficientnet_lite0": "bn2",  # conv_head -> BN + ReLU6: 1280 x h/32 x w/32
    "efficientnet_b0": "bn2",
    "mobilenetv3_large_100": "blocks",  # its conv_head runs after pooling, on 1 x 1
    "resnet18": "layer4",
    "resnet50": "layer4",
    "convnext_tiny": "stages",
    "efficientnet_lite1": "bn2",
    "efficientnet_lite2": "bn2",
    "vit_base_patch32_clip_224.openai": "blocks.11.norm1",  # tokens: see token_map
    "vit_base_patch16_siglip_224": "blocks.11.norm1",
}


@dataclass(frozen=True)
class Explanation:
    """One label's heat map for one image.

    `heatmap` is float32 (H, W) in [0, 1] at the size asked for (the image's own size by
    default); all zeros when nothing in the image raises the label's score.
    """

    label: str
    index: int
    probability: float
    heatmap: np.ndarray


def target_layer_name(backbone: str) -> str:
    """The submodule Grad-CAM hooks for `backbone`; BackboneUnavailable if it has none."""
    try:
        return TARGET_LAYERS[backbone]
    except KeyError:
        supported = ", ".join(TARGET_LAYERS)
        raise BackboneUnavailable(
            f"Explanations are not available for the backbone '{backbone}' "
            f"(supported: {supported})."
        ) from None


def open_image(source: ImageSource) -> Image.Image:
    """The image as RGB (a path is decoded; an ImageDecodeError names it when it cannot be)."""
    if isinstance(source, Image.Image):
        return upright(source).convert("RGB")
    return read_rgb(source)  # only the formats Marquee supports ever parse the file


class Explainer:
    """Grad-CAM for a trained classifier: `explain(image, label)` and `explain_all(image)`."""

    def __init__(self, model: MultiLabelClassifier, meta: ModelMeta, device: str = "cpu") -> None:
        self.device, _ = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.meta = meta
        self.graph = graph_for(self.model, meta).to(self.device)  # the displayed probability
        name = target_layer_name(meta.backbone)
        self.layer = model.backbone.get_submodule(name)

    @classmethod
    def from_file(cls, path: str | Path, device: str = "cpu") -> Explainer:
        """Load a model file into an explainer of its own."""
        model, meta = load_model(path)
        return cls(model, meta, device)

    @property
    def label_names(self) -> list[str]:
        return list(self.meta.label_names)

    def label_index(self, label: str | int) -> int:
        """The index of a label given by name or index (UsageError naming the labels)."""
        names = self.meta.label_names
        if isinstance(label, int) and not isinstance(label, bool) and 0 <= label < len(names):
            return label
        if isinstance(label, str) and label in names:
            return names.index(label)
        raise UsageError(f"'{label}' is not one of the model's labels: {', '.join(names)}")

    def explain(
        self, image: ImageSource, label: str | int, size: tuple[int, int] | None = None
    ) -> Explanation:
        """Grad-CAM of one label. `size` is (width, height); default: the image's size."""
        return self.explain_labels(image, [label], size)[0]

    def explain_all(
        self, image: ImageSource, size: tuple[int, int] | None = None
    ) -> list[Explanation]:
        """Grad-CAM of every label, in the model's label order (one forward pass)."""
        return self.explain_labels(image, range(len(self.meta.label_names)), size)

    def explain_labels(
        self,
        image: ImageSource,
        labels: Sequence[str | int],
        size: tuple[int, int] | None = None,
    ) -> list[Explanation]:
        """Grad-CAM of the given labels: one forward pass, one backward pass per label."""
        indices = [self.label_index(label) for label in labels]
        return self._explain(image, lambda _probs: indices, size)

    def explain_top(self, image: ImageSource, size: tuple[int, int] | None = None) -> Explanation:
        """Grad-CAM of the label the model finds most probable for this image."""
        return self._explain(image, lambda probs: [int(np.argmax(probs))], size)[0]

    def _explain(
        self,
        image: ImageSource,
        choose: Callable[[np.ndarray], list[int]],
        size: tuple[int, int] | None,
    ) -> list[Explanation]:
        picture = open_image(image)
        width, height = size or picture.size
        array = load_rgb(image, self.meta.image_size)  # decoded as the pipeline decodes it
        pixels = torch.from_numpy(array).unsqueeze(0).to(self.device)
        with torch.inference_mode():  # the pipeline's probabilities (TTA included), as on cards
            probs = self.graph(pixels)[0].cpu().numpy()
        batch = pixels.permute(0, 3, 1, 2)
        activations, logits = self._forward(normalize(batch, self.meta.mean, self.meta.std))
        indices = choose(probs)
        explanations = []
        for n, index in enumerate(indices):
            (grads,) = torch.autograd.grad(
                logits[0, index], activations, retain_graph=n < len(indices) - 1
            )
            maps, grads = self._as_map(activations.detach()), self._as_map(grads)
            cam = _grad_cam(maps, grads, (height, width))
            explanations.append(
                Explanation(self.meta.label_names[index], index, float(probs[index]), cam)
            )
        return explanations

    def _forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits, and the hooked layer's activations as the root of the autograd graph.

        Nothing before the hooked layer records a graph (its weights are switched to
        requires_grad=False for the call), so the backward passes only touch the top.
        """

        def make_root(_module: nn.Module, _inputs: object, output: torch.Tensor) -> torch.Tensor:
            root = output.detach().requires_grad_(True)
            captured.append(root)
            return root

        captured: list[torch.Tensor] = []
        params = list(self.model.parameters())
        flags = [p.requires_grad for p in params]
        handle = self.layer.register_forward_hook(make_root)
        try:
            for p in params:
                p.requires_grad_(False)
            with torch.enable_grad():
                logits = self.model(x).float()
        finally:
            handle.remove()
            for p, flag in zip(params, flags, strict=True):
                p.requires_grad_(flag)
        if len(captured) != 1 or captured[0].ndim not in (3, 4):
            raise RuntimeError(f"Grad-CAM hook on {self.meta.backbone} saw no feature map")
        return captured[0], logits

    def _as_map(self, x: torch.Tensor) -> torch.Tensor:
        """A CNN's N x C x h x w as it is; a transformer's N x T x C tokens as a patch grid."""
        return x if x.ndim == 4 else token_map(x, self.model.backbone)


def token_map(tokens: torch.Tensor, backbone: nn.Module) -> torch.Tensor:
    """N x T x C transformer tokens -> N x C x h x w: prefix tokens (class) dropped, the
    patch tokens put back on timm's patch grid."""
    prefix = int(getattr(backbone, "num_prefix_tokens", 0))
    h, w = cast(Any, backbone).patch_embed.grid_size  # timm's VisionTransformer
    patches = tokens[:, prefix:, :]
    return patches.transpose(1, 2).reshape(tokens.shape[0], tokens.shape[2], h, w)


def _grad_cam(activations: torch.Tensor, grads: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """ReLU(sum_c mean(grad_c) * A_c), upsampled bilinearly to `size` (h, w), in [0, 1]."""
    weights = grads.float().mean(dim=(2, 3), keepdim=True)  # (1, C, 1, 1)
    cam = torch.relu((weights * activations.float()).sum(dim=1, keepdim=True))
    if not bool(torch.isfinite(cam).all()) or float(cam.max()) <= 0:
        return np.zeros(size, dtype=np.float32)
    cam = torch.nn.functional.interpolate(cam, size=size, mode="bilinear").clamp_(min=0)
    return (cam / cam.max())[0, 0].cpu().numpy().astype(np.float32)


# ------------------------------------------------------------------ colormap and overlays
# Anchor colours of a jet-like map (dark blue -> blue -> cyan -> yellow -> red -> dark red).
_ANCHORS = np.array(
    [
        (0.00, 0, 0, 128),
        (0.12, 0, 0, 255),
        (0.35, 0, 255, 255),
        (0.62, 255, 255, 0),
        (0.88, 255, 0, 0),
        (1.00, 128, 0, 0),
    ],
    dtype=np.float64,
)
COLORMAP = np.stack(
    [np.interp(np.linspace(0, 1, 256), _ANCHORS[:, 0], _ANCHORS[:, c]) for c in (1, 2, 3)],
    axis=1,
).astype(np.uint8)  # (256, 3) RGB lookup table


def colorize(heatmap: np.ndarray, alpha: float = 1.0, fade: bool = True) -> Image.Image:
    """The heat map as an RGBA image; with `fade`, cold areas become transparent too.

    The GUI can draw this over the poster and scale its opacity with a slider.
    """
    values = np.clip(np.nan_to_num(np.asarray(heatmap, dtype=np.float32)), 0, 1)
    rgb = COLORMAP[(values * 255).round().astype(np.uint8)]
    opacity = (values if fade else np.ones_like(values)) * float(np.clip(alpha, 0, 1))
    a = (opacity * 255).round().astype(np.uint8)[..., None]
    return Image.fromarray(np.concatenate([rgb, a], axis=-1))  # RGBA


def overlay(
    image: ImageSource, heatmap: np.ndarray, alpha: float = 0.5, fade: bool = False
) -> Image.Image:
    """The image (RGB) with the coloured heat map blended over it at opacity `alpha`.

    The heat map is resized to the image when their sizes differ.
    """
    base = open_image(image)
    layer = colorize(heatmap, alpha, fade)
    if layer.size != base.size:
        layer = layer.resize(base.size, Image.Resampling.BILINEAR)
    return Image.alpha_composite(base.convert("RGBA"), layer).convert("RGB")
