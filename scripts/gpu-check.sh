#!/usr/bin/env bash
# UNTESTED: no GPU machine has been lent to this project yet. On a Linux x86-64 machine with an
# NVIDIA GPU and its driver (nvidia-smi works), builds @tensorflow/tfjs-node-gpu the way
# `npm run setup:tfjs-node` builds tfjs-node (the `tensorflow` wheel plus the CUDA libraries of the
# pinned nvidia-* wheels, ~4 GB once in ~/.cache/tfjs-oft), then runs the whole suite and the
# benchmark on it. See docs/tfjs-node-gpu.md.
set -euo pipefail
cd "$(dirname "$0")/.."
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
node scripts/ensure-install.mjs
# tfjs-node-gpu is not a devDependency (its JS is the same as tfjs-node's): add it for this checkout only,
# without its install script, which would download binaries.
if [ ! -f node_modules/@tensorflow/tfjs-node-gpu/package.json ]; then
  npm install --no-save --ignore-scripts --no-audit --no-fund @tensorflow/tfjs-node-gpu@4.22.0
fi
node scripts/setup-tfjs-node.mjs --gpu
export TFJS_NODE_GPU=1 TFJS_BACKEND=tensorflow
# TensorFlow logs the GPU it places work on ("Created device ... GPU:0"): show it once.
probe="const tf = require('@tensorflow/tfjs-node-gpu'); tf.matMul(tf.ones([2, 2]), tf.ones([2, 2])).dataSync();"
TF_CPP_MIN_LOG_LEVEL=0 node -e "$probe" 2>&1 | grep -iE "GPU|cuda" | head -5 || true
npx mocha 'test/**/*.spec.ts'
npx tsx bench/index.ts --backend tensorflow
