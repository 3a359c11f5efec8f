"""The network: backbones, heads and the multi-label classifier built from them."""
