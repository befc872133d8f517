#!/usr/bin/env bash
# The local lastmile stack without Docker: a single-node KRaft Apache Kafka broker,
# Redis and Prometheus, each a plain process bound to 127.0.0.1, state under $RUN_DIR.
#
#   deploy/local/stack.sh up       install what is missing, start all three, wait until healthy
#   deploy/local/stack.sh down     stop them (fine when already down)
#   deploy/local/stack.sh status   state of each service
#   deploy/local/stack.sh clean    down + wipe the stack's data under $RUN_DIR
#
# Env: RUN_DIR (default <repo>/run), LASTMILE_KAFKA_PORT (9092), LASTMILE_KAFKA_CONTROLLER_PORT
# (9093), LASTMILE_REDIS_PORT (6379), LASTMILE_PROMETHEUS_PORT (9090), LASTMILE_STACK_TIMEOUT
# (seconds to wait for health, 180), LASTMILE_KAFKA_HEAP (-Xms256m -Xmx1g), LASTMILE_CACHE.
# Fault tests only: LASTMILE_KAFKA_EXTRA_LISTENER (ADDR:PORT, a second broker listener) and
# LASTMILE_REDIS_EXTRA_BIND (ADDR; protected mode off, else Redis refuses that address), on a
# veth address the test creates (tests/integration/test_fault_matrix.py).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
RUN_DIR="${RUN_DIR:-$REPO/run}"
[[ -n "$RUN_DIR" && "$RUN_DIR" != "/" ]] || { echo "[stack] refusing RUN_DIR='$RUN_DIR'" >&2; exit 2; }
mkdir -p "$RUN_DIR"
RUN_DIR="$(cd "$RUN_DIR" && pwd)"

KAFKA_PORT="${LASTMILE_KAFKA_PORT:-9092}"
CONTROLLER_PORT="${LASTMILE_KAFKA_CONTROLLER_PORT:-9093}"
REDIS_PORT="${LASTMILE_REDIS_PORT:-6379}"
PROM_PORT="${LASTMILE_PROMETHEUS_PORT:-9090}"
TIMEOUT="${LASTMILE_STACK_TIMEOUT:-180}"
KAFKA_HEAP="${LASTMILE_KAFKA_HEAP:--Xms256m -Xmx1g}"

KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$HERE/kafka/pom.xml")"
KAFKA_HOME="${LASTMILE_CACHE:-${HOME:-$(cd ~ && pwd)}/.cache/lastmile}/kafka-$KAFKA_VERSION"
KAFKA_LIBS="$KAFKA_HOME/libs"

LOGS="$RUN_DIR/logs"
PIDS="$RUN_DIR/pids"
KAFKA_DATA="$RUN_DIR/kafka-data"
KAFKA_CONF_DIR="$RUN_DIR/kafka"
REDIS_DIR="$RUN_DIR/redis"
PROM_DATA="$RUN_DIR/prometheus"

SERVICES=(kafka redis prometheus)

say() { echo "[stack] $*"; }
die() { echo "[stack] ERROR: $*" >&2; exit 1; }

# ------------------------------------------------------------------ helpers
port_of() { case $1 in kafka) echo "$KAFKA_PORT" ;; redis) echo "$REDIS_PORT" ;; prometheus) echo "$PROM_PORT" ;; esac; }
log_of()  { case $1 in kafka) echo "$LOGS/kafka-server.log" ;; redis) echo "$LOGS/redis.log" ;; prometheus) echo "$LOGS/prometheus.log" ;; esac; }
# a word that must appear in the process's command line (guards against a recycled pid)
sig_of()  { case $1 in kafka) echo "kafka.Kafka" ;; redis) echo "redis-server" ;; prometheus) echo "prometheus" ;; esac; }

pid_of() {
  local f="$PIDS/$1.pid" pid
  [[ -f $f ]] || return 1
  pid="$(cat "$f")"
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null \
    && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$(sig_of "$1")" \
    && { echo "$pid"; return 0; }
  return 1
}
running() { pid_of "$1" >/dev/null; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

TOOLS_LOG4J2="-Dlog4j2.configurationFile=file:$HERE/kafka/tools-log4j2.properties"
kafka_java() { java "$TOOLS_LOG4J2" -cp "$KAFKA_LIBS/*" "$@"; }

healthy() {
  case $1 in
    kafka)
      port_open "$KAFKA_PORT" || return 1
      # a real Metadata + ApiVersions round trip through the Kafka admin client
      timeout 60 java -Xmx128m "$TOOLS_LOG4J2" \
        -cp "$KAFKA_LIBS/*" org.apache.kafka.tools.BrokerApiVersionsCommand \
        --bootstrap-server "127.0.0.1:$KAFKA_PORT" 2>/dev/null | grep -q "127.0.0.1:$KAFKA_PORT (id: 1"
      ;;
    redis) [[ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]] ;;
    prometheus) curl -fs -m 3 "http://127.0.0.1:$PROM_PORT/-/ready" >/dev/null ;;
  esac
}

# launch CMD... in its own session, detached from the terminal; its pid goes to $PIDS/NAME.pid
launch() {
  local name=$1 out=$2; shift 2
  [[ -s $out ]] && mv -f "$out" "$out.prev"  # one log per start; the previous one is kept
  # shellcheck disable=SC2016  # $$ and $@ expand in the child shell
  nohup setsid bash -c 'echo $$ > "$0"; exec "$@"' "$PIDS/$name.pid" "$@" >"$out" 2>&1 </dev/null &
  local i
  for i in $(seq 50); do [[ -s "$PIDS/$name.pid" ]] && break; sleep 0.1; done
}

needs_install() {
  local c
  for c in java mvn redis-server redis-cli prometheus promtool amtool curl; do command -v "$c" >/dev/null || return 0; done
  [[ -f "$KAFKA_HOME/.installed" && -f "$KAFKA_LIBS/kafka_2.13-$KAFKA_VERSION.jar" ]] || return 0
  [[ "$(cat "$KAFKA_HOME/.installed")" == "$(sha256sum "$HERE/kafka/pom.xml" | cut -d' ' -f1)" ]] || return 0
  return 1
}

# ------------------------------------------------------------------ starters
start_kafka() {
  mkdir -p "$KAFKA_DATA" "$KAFKA_CONF_DIR"
  sed -e "s|@KAFKA_PORT@|$KAFKA_PORT|g" -e "s|@CONTROLLER_PORT@|$CONTROLLER_PORT|g" \
      -e "s|@DATA_DIR@|$KAFKA_DATA|g" "$HERE/kafka/server.properties" >"$KAFKA_CONF_DIR/server.properties"
  if [[ -n "${LASTMILE_KAFKA_EXTRA_LISTENER:-}" ]]; then  # fault tests: a veth address of their own
    local x="EXTRA://$LASTMILE_KAFKA_EXTRA_LISTENER"
    sed -i -e "s|^listeners=\(.*\)|listeners=\1,$x|" -e "s|^advertised.listeners=\(.*\)|advertised.listeners=\1,$x|" \
      -e "s|^listener.security.protocol.map=\(.*\)|listener.security.protocol.map=\1,EXTRA:PLAINTEXT|" \
      "$KAFKA_CONF_DIR/server.properties"
  fi
  if [[ ! -f "$KAFKA_DATA/meta.properties" ]]; then
    local cid
    cid="$(kafka_java kafka.tools.StorageTool random-uuid)" || die "kafka StorageTool random-uuid failed"
    say "kafka: formatting KRaft storage in $KAFKA_DATA (cluster id $cid)"
    kafka_java kafka.tools.StorageTool format --ignore-formatted -t "$cid" -c "$KAFKA_CONF_DIR/server.properties" \
      >>"$LOGS/kafka-format.log" 2>&1 || { tail -20 "$LOGS/kafka-format.log" >&2; die "kafka storage format failed (log: $LOGS/kafka-format.log)"; }
  fi
  # shellcheck disable=SC2086
  launch kafka "$LOGS/kafka.out" java $KAFKA_HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="file:$HERE/kafka/log4j2.properties" -Dkafka.logs.dir="$LOGS" \
    -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_CONF_DIR/server.properties"
}

start_redis() {
  mkdir -p "$REDIS_DIR"
  cat >"$REDIS_DIR/redis.conf" <<CONF
# written by deploy/local/stack.sh — local lastmile read models
bind 127.0.0.1${LASTMILE_REDIS_EXTRA_BIND:+ $LASTMILE_REDIS_EXTRA_BIND}
port $REDIS_PORT
protected-mode $([[ -n "${LASTMILE_REDIS_EXTRA_BIND:-}" ]] && echo no || echo yes)
daemonize no
dir $REDIS_DIR
appendonly yes
appendfsync everysec
save 60 1000
logfile ""
loglevel notice
CONF
  launch redis "$LOGS/redis.log" redis-server "$REDIS_DIR/redis.conf"
}

start_prometheus() {
  mkdir -p "$PROM_DATA"
  launch prometheus "$LOGS/prometheus.log" prometheus \
    --config.file="$HERE/prometheus-local.yml" \
    --storage.tsdb.path="$PROM_DATA" \
    --web.listen-address="127.0.0.1:$PROM_PORT" \
    --web.enable-lifecycle
}

# ------------------------------------------------------------------ commands
cmd_up() {
  if needs_install; then
    say "installing prerequisites (deploy/local/install.sh)"
    bash "$HERE/install.sh" || die "install.sh failed; see above"
  fi
  command -v java >/dev/null || die "java not found; run deploy/local/install.sh"
  mkdir -p "$LOGS" "$PIDS"

  local s to_start=()
  for s in "${SERVICES[@]}"; do
    if running "$s"; then
      say "$s already running (pid $(pid_of "$s"))"
      continue
    fi
    rm -f "$PIDS/$s.pid"
    if port_open "$(port_of "$s")"; then
      die "port 127.0.0.1:$(port_of "$s") is already taken by another process (not this stack's $s under $RUN_DIR). Stop it, or pick another port with LASTMILE_${s^^}_PORT."
    fi
    to_start+=("$s")
  done
  if [[ " ${to_start[*]-} " == *" kafka "* ]] && port_open "$CONTROLLER_PORT"; then
    die "port 127.0.0.1:$CONTROLLER_PORT (Kafka controller) is already taken. Stop that process, or set LASTMILE_KAFKA_CONTROLLER_PORT."
  fi
  for s in "${to_start[@]+"${to_start[@]}"}"; do
    say "starting $s on 127.0.0.1:$(port_of "$s")"
    "start_$s"
    started+=("$s")
  done

  local deadline=$((SECONDS + TIMEOUT)) pending=("${SERVICES[@]}") next
  while ((${#pending[@]})); do
    next=()
    for s in "${pending[@]}"; do
      if ! running "$s"; then
        echo "[stack] ---- last lines of $(log_of "$s") ----" >&2
        tail -n 25 "$(log_of "$s")" >&2 2>/dev/null || true
        if [[ $s == kafka ]]; then
          echo "[stack] ---- $LOGS/kafka.out (JVM output) ----" >&2
          tail -n 20 "$LOGS/kafka.out" >&2 2>/dev/null || true
        fi
        die "$s exited during start-up (logs in $LOGS); fix it and rerun, or 'make clean' to wipe its data"
      fi
      if healthy "$s"; then
        say "$s healthy on 127.0.0.1:$(port_of "$s") (pid $(pid_of "$s"))"
      else
        next+=("$s")
      fi
    done
    pending=("${next[@]+"${next[@]}"}")
    ((${#pending[@]})) || break
    if ((SECONDS >= deadline)); then
      for s in "${pending[@]}"; do
        echo "[stack] ---- $s not healthy after ${TIMEOUT}s; last lines of $(log_of "$s") ----" >&2
        tail -n 40 "$(log_of "$s")" >&2 2>/dev/null || true
      done
      die "timed out waiting for: ${pending[*]} (logs in $LOGS; 'deploy/local/stack.sh down' stops what did start)"
    fi
    sleep 1
  done
  say "up: kafka 127.0.0.1:$KAFKA_PORT  redis 127.0.0.1:$REDIS_PORT  prometheus http://127.0.0.1:$PROM_PORT  (logs: $LOGS)"
}

stop_one() {
  local s=$1 pid wait_s=$2 i
  if ! pid="$(pid_of "$s")"; then
    rm -f "$PIDS/$s.pid"
    say "$s not running"
    return 0
  fi
  say "stopping $s (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < wait_s * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "$s did not stop within ${wait_s}s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$PIDS/$s.pid"
}

# processes of the project itself that the demo started (lastmile worker, api): app-*.pid
stop_apps() {
  local f pid name
  for f in "$PIDS"/app-*.pid; do
    [[ -e $f ]] || continue
    name="$(basename "$f" .pid)"
    pid="$(cat "$f")"
    if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null \
      && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "lastmile"; then
      say "stopping ${name#app-} (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$f"
  done
}

cmd_down() {
  stop_apps
  stop_one prometheus 20
  stop_one redis 20
  stop_one kafka 60
}

cmd_status() {
  local s pid state
  for s in "${SERVICES[@]}"; do
    if pid="$(pid_of "$s")"; then
      if healthy "$s"; then state="running, healthy"; else state="running, NOT healthy (see $(log_of "$s"))"; fi
      printf '%-11s %-28s pid %-8s 127.0.0.1:%s\n' "$s" "$state" "$pid" "$(port_of "$s")"
    else
      printf '%-11s %-28s %-12s 127.0.0.1:%s\n' "$s" "stopped" "" "$(port_of "$s")"
    fi
  done
  echo "run dir: $RUN_DIR   kafka: $KAFKA_VERSION ($KAFKA_LIBS)"
}

cmd_clean() {
  cmd_down
  say "wiping stack data under $RUN_DIR"
  rm -rf "$LOGS" "$PIDS" "$KAFKA_DATA" "$KAFKA_CONF_DIR" "$REDIS_DIR" "$PROM_DATA" \
    "$RUN_DIR/worker-data" "$RUN_DIR/demo"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  clean) cmd_clean ;;
  *) echo "usage: $0 up|down|status|clean" >&2; exit 2 ;;
esac
