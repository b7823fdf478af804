#!/usr/bin/env bash
# Install the peers of the fan-out benchmark from their registries into loadtests/.peers/
# (git-ignored): python-socketio in its own virtualenv, Node's socket.io with its Redis adapter
# through npm. Nothing is copied into the repository. Re-running is harmless.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
peers="$here/.peers"
python="${PYTHON:-python3}"
mkdir -p "$peers/node"

if [ ! -x "$peers/sio/bin/python" ]; then
    "$python" -m venv "$peers/sio"
fi
"$peers/sio/bin/pip" install --quiet python-socketio redis uvicorn websockets orjson
"$peers/sio/bin/python" -c 'from importlib.metadata import version as v; print(*(f"{p} {v(p)}" for p in ("python-socketio", "python-engineio", "uvicorn", "websockets", "redis")))'

cd "$peers/node"
[ -f package.json ] || npm init -y >/dev/null
npm install --no-audit --no-fund --silent socket.io @socket.io/redis-adapter redis
node -e 'for (const p of ["socket.io", "@socket.io/redis-adapter", "redis"]) console.log(p, require(p + "/package.json").version)'
