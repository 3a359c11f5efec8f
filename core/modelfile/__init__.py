"""The model file: safetensors weights plus a checked metadata header, read and written safely."""
