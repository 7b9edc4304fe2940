#!/usr/bin/env bash
# Set everything up and run StockPilot: the sync server on SQLite with demo data, and the till.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh
bash scripts/venv.sh

export STOCKPILOT_DATA_DIR=${STOCKPILOT_DATA_DIR:-$PWD/var/demo}
PORT=${STOCKPILOT_PORT:-8765}
URL="http://127.0.0.1:$PORT"
ADMIN_PASSWORD=${STOCKPILOT_ADMIN_PASSWORD:-stockpilot-demo}
mkdir -p "$STOCKPILOT_DATA_DIR"

if [ ! -f "$STOCKPILOT_DATA_DIR/stockpilot.db" ]; then
  # First start only (later starts reuse the data dir): the demo shop and a month of its life,
  # lived through two enrolled tills, the online store, a purchase order and a transfer.
  echo "Building the demo shop and a month of its history (once; about half a minute)..."
  .venv/bin/stockpilot-server init --tenant "Demo Kirana" --admin-username admin \
    --admin-password "$ADMIN_PASSWORD" --admin-pin 1234 --no-branch
  .venv/bin/stockpilot-server demo-data
fi

.venv/bin/stockpilot-server serve --port "$PORT" >"$STOCKPILOT_DATA_DIR/server.log" 2>&1 &
SERVER_PID=$!
trap 'kill $SERVER_PID 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 1 100); do
  if .venv/bin/python -c "import httpx,sys; sys.exit(httpx.get('$URL/api/v1/health').status_code != 200)" 2>/dev/null; then
    break
  fi
  sleep 0.2
done

cat <<MSG

  StockPilot is running.
    API docs:     $URL/docs
    Admin login:  admin / $ADMIN_PASSWORD   (till PIN 1234)
    Staff logins: manager / manager-pass (PIN 2468), cashier / cashier-pass (PIN 1111)
    Server log:   $STOCKPILOT_DATA_DIR/server.log

MSG

TILL_DIR="$STOCKPILOT_DATA_DIR/till"
ENROL=()
if [ ! -d "$TILL_DIR" ]; then
  # First start: enrol the till at the Andheri branch with a fresh one-time code.
  CODE=$(.venv/bin/stockpilot-server device enrol-code --branch AND | sed -n 's/^Enrolment code for branch [^:]*: //p')
  ENROL=(--enrol-code "$CODE")
  echo "Till enrolment code (branch AND): $CODE"
fi

if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  echo "Opening the till..."
  .venv/bin/stockpilot-till --server "$URL" --data-dir "$TILL_DIR" "${ENROL[@]}" || true
  echo "Till closed. The server keeps running; press Ctrl+C to stop it."
else
  echo "No display here, so only the server runs. To open the till on a virtual screen:"
  echo "  Xvfb :99 & DISPLAY=:99 .venv/bin/stockpilot-till --server $URL --data-dir $TILL_DIR ${ENROL[*]}"
  echo "Press Ctrl+C to stop the server."
fi
wait $SERVER_PID
