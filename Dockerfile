# syntax=docker/dockerfile:1
#
# One image for the three Node processes; the command picks which (docker-compose.yml sets it):
#   worker     node --import tsx workers/main.ts    (the default)
#   API        node --import tsx scripts/api.ts
#   simulator  node --import tsx scripts/simulate.ts --rps 50 --url http://api:8000
#
# Debian, not Alpine: Temporal's native core (@temporalio/core-bridge), koffi and onnxruntime-node
# ship glibc builds only. The base is pinned by tag and digest (the tag is the Node release the
# project is developed on, 20.20.2).

FROM node:20.20.2-bookworm-slim@sha256:2cf067cfed83d5ea958367df9f966191a942351a2df77d6f0193e162b5febfc0 AS build
WORKDIR /app

# Python is needed here only to unpack libxgboost (the native XGBoost engine) from the pinned
# xgboost-cpu wheel of python/requirements.txt. --no-deps: the engine loads the shared library
# through koffi and never imports the Python package, so numpy/scipy would be dead weight.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*
COPY python/requirements.txt /tmp/requirements.txt
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --no-deps "$(grep -E '^xgboost-cpu==' /tmp/requirements.txt)" \
 && test -f /opt/venv/lib/python3.11/site-packages/xgboost/lib/libxgboost.so

# Production dependencies only (tsx runs the TypeScript sources; the Temporal worker bundles the
# workflows with its own webpack + swc at start). .npmrc keeps onnxruntime-node's install script
# from downloading CUDA parts.
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev

# @tensorflow/tfjs-node (native libtensorflow) is optional: its install downloads libtensorflow
# from its own host, which a build network may block. The neural network uses it when it resolves
# (lib/ml/neural-network/tf-backend.ts) and the wasm backend otherwise, so a failure is not fatal.
# Same version as @tensorflow/tfjs in package.json.
RUN npm install --no-save --omit=dev @tensorflow/tfjs-node@4.22.0 \
 || echo "@tensorflow/tfjs-node could not be installed: the neural network will train on the wasm backend"

FROM node:20.20.2-bookworm-slim@sha256:2cf067cfed83d5ea958367df9f966191a942351a2df77d6f0193e162b5febfc0

# Fonts for the PNG plots (@napi-rs/canvas draws text with the system fonts; the slim image has none).
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*

# The same variables as the local stack (lib/config.ts); docker-compose.yml sets the rest.
# VENV_DIR holds only lib/python3.11/site-packages/xgboost{,_cpu.libs}: that is where
# lib/ml/xgboost/native-engine.ts looks for libxgboost.so. No Python interpreter is needed at run time.
ENV NODE_ENV=production \
    VENV_DIR=/opt/venv \
    DATA_DIR=/data \
    ML_DATA_DIR=/data/ml \
    MODEL_STORE_DIR=/data/model-store \
    LOG_FORMAT=json

WORKDIR /app
COPY --from=build /opt/venv/lib /opt/venv/lib
COPY --from=build /app/node_modules ./node_modules
COPY . .

# The volume mount points exist and belong to the runtime user, so fresh named volumes inherit
# that ownership and the processes can write to them without root.
RUN mkdir -p /data/ml /data/model-store \
 && chown -R node:node /data

USER node
CMD ["node", "--import", "tsx", "workers/main.ts"]
