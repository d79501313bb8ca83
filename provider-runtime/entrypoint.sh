#!/bin/sh
# Meshgate provider runtime: `vllm serve` and the agent side by side, as one container process.
#
# - MESHGATE_ENGINE=vllm (default): starts `vllm serve "$MODEL" --host 127.0.0.1 --port $VLLM_PORT $VLLM_ARGS`
#   (loopback only: the agent is the only way in) and points the agent at it.
#   MESHGATE_ENGINE=sim: no vLLM; the agent runs the simulated engine in-process (test/demo only).
# - The agent is `$MESHGATE_AGENT_CMD` (default: node /opt/meshgate/provider-agent.mjs) plus this
#   script's arguments; its other settings come from MESHGATE_* variables (provider-runtime/README.md).
# - Exits when either process exits, stopping the other. On TERM/INT: the agent is stopped first
#   (it drains in-flight requests while the engine still serves them), then the engine.
# POSIX sh (dash, busybox): no `wait -n`, so each child runs under a small watcher that records its
# exit status in a file, and the main loop polls those files.

MESHGATE_ENGINE="${MESHGATE_ENGINE:-vllm}"
MESHGATE_AGENT_CMD="${MESHGATE_AGENT_CMD:-node /opt/meshgate/provider-agent.mjs}"
VLLM_PORT="${VLLM_PORT:-8000}"
VLLM_ARGS="${VLLM_ARGS:-}"
# The agent's drain bound plus a margin; after that it is killed.
AGENT_STOP_S=$(( ${MESHGATE_DRAIN_MS:-30000} / 1000 + 15 ))
ENGINE_STOP_S="${ENGINE_STOP_S:-30}"

state=$(mktemp -d "${TMPDIR:-/tmp}/meshgate-entrypoint.XXXXXX") || exit 1
engine_started=""

say() { printf 'entrypoint: %s\n' "$*" >&2; }

# start NAME CMD...: runs CMD in the background under a watcher that writes NAME.pid and NAME.rc.
start() {
  name=$1
  shift
  ( "$@" &
    echo $! > "$state/$name.pid"
    wait $!
    echo $? > "$state/$name.rc" ) &
  while [ ! -s "$state/$name.pid" ]; do sleep 0.05; done
}

running() { [ -s "$state/$1.pid" ] && [ ! -e "$state/$1.rc" ]; }
rc() { cat "$state/$1.rc" 2>/dev/null || echo 1; }

# stop NAME SECONDS: TERM, then KILL once SECONDS have passed; returns when its status is recorded.
stop() {
  running "$1" || return 0
  kill -TERM "$(cat "$state/$1.pid")" 2>/dev/null
  ticks=0
  while running "$1"; do
    if [ "$ticks" -eq $(( $2 * 10 )) ]; then
      say "$1 did not stop within $2 s; killing it"
      kill -KILL "$(cat "$state/$1.pid")" 2>/dev/null
    fi
    sleep 0.1
    ticks=$((ticks + 1))
  done
}

finish() {
  code=$1
  rm -rf "$state"
  exit "$code"
}

on_signal() {
  trap '' TERM INT
  stop agent "$AGENT_STOP_S"
  code=$(rc agent)
  [ -n "$engine_started" ] && stop engine "$ENGINE_STOP_S"
  finish "$code"
}
trap on_signal TERM INT

case "$MESHGATE_ENGINE" in
  sim)
    export MESHGATE_ENGINE=sim
    ;;
  vllm)
    if [ -z "${MODEL:-}" ]; then
      say "MODEL is required: the model vLLM serves (a Hugging Face id or a path)"
      finish 2
    fi
    # shellcheck disable=SC2086 # VLLM_ARGS is a list of extra flags, split on purpose
    start engine vllm serve "$MODEL" --host 127.0.0.1 --port "$VLLM_PORT" $VLLM_ARGS
    engine_started=1
    export MESHGATE_ENGINE=vllm
    export MESHGATE_ENGINE_URL="http://127.0.0.1:$VLLM_PORT"
    export MESHGATE_MODEL="${MESHGATE_MODEL:-$MODEL}"
    ;;
  *)
    say "MESHGATE_ENGINE must be 'vllm' or 'sim', not '$MESHGATE_ENGINE'"
    finish 2
    ;;
esac

# shellcheck disable=SC2086 # MESHGATE_AGENT_CMD is a command line, split on purpose
start agent $MESHGATE_AGENT_CMD "$@"

while running agent && { [ -z "$engine_started" ] || running engine; }; do
  sleep 0.2 &
  wait $! # interruptible: a TERM runs on_signal at once
done

if ! running agent; then
  code=$(rc agent)
  [ -n "$engine_started" ] && stop engine "$ENGINE_STOP_S"
  finish "$code"
fi
code=$(rc engine)
say "the engine exited with status $code; stopping the agent"
stop agent "$AGENT_STOP_S"
[ "$code" -eq 0 ] && code=1
finish "$code"
