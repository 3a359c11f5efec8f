"""The inference graph's names, shared by torch, the ONNX file and its readers (no torch here).

Input `images`: uint8 RGB, N x S x S x 3 (NHWC), each image resized to S x S exactly as
decoded. Output `probabilities`: float32 N x labels.
"""

from __future__ import annotations

INPUT_NAME = "images"
OUTPUT_NAME = "probabilities"
