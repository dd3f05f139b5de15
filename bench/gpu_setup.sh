#!/usr/bin/env bash
# Sourced at the start of every command on the GPU machine (no Node.js, no network there): unpacks
# the Vulkan/EGL loaders, the Node binary and onnxruntime-node carried from the developer machine
# (see ../shared/device/webgpu-on-the-gpu-machine.md for how .gl and .carry are made).
for f in .gl/*.deb; do dpkg -x "$f" / ; done; ldconfig
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -x /tmp/node ] || { xz -dc .carry/node.xz > /tmp/node && chmod +x /tmp/node; }
[ -d node_modules/onnxruntime-node ] || tar xJf .carry/ort.tar.xz
export NODE=/tmp/node PATH=/tmp:$PATH
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
