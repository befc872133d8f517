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
# (seconds to wait for health, 180), LASTMILE_KAFKA_HEAP (-Xms256m -Xmx1g), LASTMILE_CACHE,
# LASTMILE_STACK_SERVICES (which of "kafka redis prometheus" to run; default all three).
#
# Secured broker (optional; docs/local-stack.md): LASTMILE_KAFKA_SASL_PORT=N adds a SASL_SSL
# listener on 127.0.0.1:N (SCRAM-SHA-512 over TLS, certificates made with openssl under
# $RUN_DIR/kafka/tls, CA in ca.pem) and turns on StandardAuthorizer ACLs; the SCRAM users of
# LASTMILE_KAFKA_SCRAM_USERS (default "lastmile") are created when the storage is formatted,
# their passwords in $RUN_DIR/kafka/secrets/<user>.password. Super users: the broker itself
# (User:ANONYMOUS on its loopback PLAINTEXT and controller listeners) and User:lastmile.
# With it, LASTMILE_KAFKA_SSL_PORT=M adds a mutual-TLS listener on 127.0.0.1:M (client
# certificates required; the principal is the certificate's CN, so a client certificate
# tls/lastmile.pem + lastmile.key, CN=lastmile, is User:lastmile).
#
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

read -r -a SERVICES <<<"${LASTMILE_STACK_SERVICES:-kafka redis prometheus}"
for s in "${SERVICES[@]}"; do
  [[ $s =~ ^(kafka|redis|prometheus)$ ]] || { echo "[stack] LASTMILE_STACK_SERVICES: unknown service '$s'" >&2; exit 2; }
done
SASL_PORT="${LASTMILE_KAFKA_SASL_PORT:-}"
SSL_PORT="${LASTMILE_KAFKA_SSL_PORT:-}"
SCRAM_USERS="${LASTMILE_KAFKA_SCRAM_USERS:-lastmile}"
KAFKA_TLS="$KAFKA_CONF_DIR/tls"
KAFKA_SECRETS="$KAFKA_CONF_DIR/secrets"

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
      [[ -z $SASL_PORT ]] || port_open "$SASL_PORT" || return 1
      [[ -z $SSL_PORT ]] || port_open "$SSL_PORT" || return 1
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
  for c in java mvn redis-server redis-cli prometheus promtool amtool curl openssl ip; do command -v "$c" >/dev/null || return 0; done
  [[ -f "$KAFKA_HOME/.installed" && -f "$KAFKA_LIBS/kafka_2.13-$KAFKA_VERSION.jar" ]] || return 0
  [[ "$(cat "$KAFKA_HOME/.installed")" == "$(sha256sum "$HERE/kafka/pom.xml" | cut -d' ' -f1)" ]] || return 0
  return 1
}

# ------------------------------------------------------------------ secured broker
# a CA and a broker certificate for 127.0.0.1 (openssl), the keystore as PKCS12
make_kafka_tls() {
  [[ -f "$KAFKA_TLS/broker.p12" ]] && return 0
  command -v openssl >/dev/null || die "openssl not found (needed for LASTMILE_KAFKA_SASL_PORT)"
  mkdir -p "$KAFKA_TLS" && chmod 700 "$KAFKA_TLS"
  (
    cd "$KAFKA_TLS"
    openssl rand -hex 16 >keystore.password
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 825 \
      -subj "/CN=lastmile local CA" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout broker.key -out broker.csr -subj "/CN=127.0.0.1" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >broker.ext
    openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out broker.pem \
      -days 825 -extfile broker.ext 2>/dev/null
    openssl pkcs12 -export -in broker.pem -inkey broker.key -certfile ca.pem -name broker \
      -out broker.p12 -passout "pass:$(cat keystore.password)"
    # a client certificate for mutual TLS as User:lastmile (LASTMILE_KAFKA_SSL_PORT)
    openssl req -newkey rsa:2048 -nodes -keyout lastmile.key -out lastmile.csr -subj "/CN=lastmile" 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    openssl x509 -req -in lastmile.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out lastmile.pem \
      -days 825 -extfile client.ext 2>/dev/null
    chmod 600 ./*.key
    rm -f broker.csr broker.ext lastmile.csr client.ext ca.srl
  ) || die "making the broker's TLS certificates with openssl failed"
  say "kafka: TLS certificates in $KAFKA_TLS (CA: ca.pem)"
}

make_scram_secrets() {
  local u
  mkdir -p "$KAFKA_SECRETS" && chmod 700 "$KAFKA_SECRETS"
  for u in $SCRAM_USERS; do
    [[ $u =~ ^[A-Za-z0-9_.-]+$ ]] || die "LASTMILE_KAFKA_SCRAM_USERS: bad user name '$u'"
    [[ -s "$KAFKA_SECRETS/$u.password" ]] || (umask 077 && openssl rand -hex 16 >"$KAFKA_SECRETS/$u.password")
  done
}

# the secured listener and the authorizer, appended to the rendered server.properties
# (a later key wins in a Java properties file)
secure_kafka_properties() {
  local listeners="PLAINTEXT://127.0.0.1:$KAFKA_PORT,SASL_SSL://127.0.0.1:$SASL_PORT"
  [[ -z $SSL_PORT ]] || listeners+=",SSL://127.0.0.1:$SSL_PORT"
  cat <<PROPS

# ---- secured mode (LASTMILE_KAFKA_SASL_PORT), written by deploy/local/stack.sh
listeners=$listeners,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=$listeners
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.ssl.keystore.type=PKCS12
listener.name.sasl_ssl.ssl.keystore.location=$KAFKA_TLS/broker.p12
listener.name.sasl_ssl.ssl.keystore.password=$(cat "$KAFKA_TLS/keystore.password")
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
# the broker's own principal on its loopback PLAINTEXT/controller listeners, and the service
super.users=User:ANONYMOUS;User:lastmile
PROPS
  [[ -n $SSL_PORT ]] || return 0
  cat <<PROPS
# mutual TLS: a client certificate is required; its CN is the principal (CN=lastmile → User:lastmile)
listener.name.ssl.ssl.client.auth=required
listener.name.ssl.ssl.keystore.type=PKCS12
listener.name.ssl.ssl.keystore.location=$KAFKA_TLS/broker.p12
listener.name.ssl.ssl.keystore.password=$(cat "$KAFKA_TLS/keystore.password")
listener.name.ssl.ssl.truststore.type=PEM
listener.name.ssl.ssl.truststore.location=$KAFKA_TLS/ca.pem
ssl.principal.mapping.rules=RULE:^CN=([^,]+)\$/\$1/,DEFAULT
PROPS
}

# client properties for the Kafka CLI tools (kafka-acls.sh --command-config) as User:lastmile
write_admin_properties() {
  cat >"$KAFKA_SECRETS/admin.properties" <<PROPS
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="lastmile" password="$(cat "$KAFKA_SECRETS/lastmile.password")";
ssl.truststore.type=PEM
ssl.truststore.location=$KAFKA_TLS/ca.pem
PROPS
  chmod 600 "$KAFKA_SECRETS/admin.properties"
}

# ------------------------------------------------------------------ starters
start_kafka() {
  mkdir -p "$KAFKA_DATA" "$KAFKA_CONF_DIR"
  sed -e "s|@KAFKA_PORT@|$KAFKA_PORT|g" -e "s|@CONTROLLER_PORT@|$CONTROLLER_PORT|g" \
      -e "s|@DATA_DIR@|$KAFKA_DATA|g" "$HERE/kafka/server.properties" >"$KAFKA_CONF_DIR/server.properties"
  local scram=()
  if [[ -n $SASL_PORT ]]; then
    [[ $SCRAM_USERS == *lastmile* ]] || SCRAM_USERS="lastmile $SCRAM_USERS"
    make_kafka_tls
    make_scram_secrets
    write_admin_properties
    secure_kafka_properties >>"$KAFKA_CONF_DIR/server.properties"
    chmod 600 "$KAFKA_CONF_DIR/server.properties"
    local u
    for u in $SCRAM_USERS; do
      scram+=(--add-scram "SCRAM-SHA-512=[name=$u,password=$(cat "$KAFKA_SECRETS/$u.password")]")
    done
    if [[ -f "$KAFKA_DATA/meta.properties" && ! -f "$KAFKA_DATA/.lastmile-scram" ]]; then
      die "kafka: $KAFKA_DATA was formatted without SCRAM users; LASTMILE_KAFKA_SASL_PORT needs a fresh one ('stack.sh clean' first, or another RUN_DIR)"
    fi
  fi
  if [[ -n "${LASTMILE_KAFKA_EXTRA_LISTENER:-}" ]]; then  # fault tests: a veth address of their own
    local x="EXTRA://$LASTMILE_KAFKA_EXTRA_LISTENER"
    sed -i -e "s|^listeners=\(.*\)|listeners=\1,$x|" -e "s|^advertised.listeners=\(.*\)|advertised.listeners=\1,$x|" \
      -e "s|^listener.security.protocol.map=\(.*\)|listener.security.protocol.map=\1,EXTRA:PLAINTEXT|" \
      "$KAFKA_CONF_DIR/server.properties"
  fi
  if [[ ! -f "$KAFKA_DATA/meta.properties" ]]; then
    local cid
    cid="$(kafka_java kafka.tools.StorageTool random-uuid)" || die "kafka StorageTool random-uuid failed"
    say "kafka: formatting KRaft storage in $KAFKA_DATA (cluster id $cid${SASL_PORT:+; SCRAM users: $SCRAM_USERS})"
    kafka_java kafka.tools.StorageTool format --ignore-formatted -t "$cid" -c "$KAFKA_CONF_DIR/server.properties" \
      "${scram[@]+"${scram[@]}"}" >>"$LOGS/kafka-format.log" 2>&1 \
      || { tail -20 "$LOGS/kafka-format.log" >&2; die "kafka storage format failed (log: $LOGS/kafka-format.log)"; }
    [[ -z $SASL_PORT ]] || echo "$SCRAM_USERS" >"$KAFKA_DATA/.lastmile-scram"
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
# the read model is write-heavy under load (each batch rewrites its parcels' timelines):
# with the defaults (100 %, 64mb) the AOF was rewritten every ~6 s at 5,000 scans/s, and
# each rewrite (a fork and a core for a while) showed as a worker latency spike
auto-aof-rewrite-percentage 400
auto-aof-rewrite-min-size 1gb
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
  if [[ " ${to_start[*]-} " == *" kafka "* && -n $SSL_PORT ]] && port_open "$SSL_PORT"; then
    die "port 127.0.0.1:$SSL_PORT (Kafka SSL) is already taken. Stop that process, or set LASTMILE_KAFKA_SSL_PORT."
  fi
  if [[ " ${to_start[*]-} " == *" kafka "* && -n $SASL_PORT ]] && port_open "$SASL_PORT"; then
    die "port 127.0.0.1:$SASL_PORT (Kafka SASL_SSL) is already taken. Stop that process, or set LASTMILE_KAFKA_SASL_PORT."
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
  say "up: ${SERVICES[*]} (kafka 127.0.0.1:$KAFKA_PORT${SASL_PORT:+, SASL_SSL 127.0.0.1:$SASL_PORT}${SSL_PORT:+, SSL 127.0.0.1:$SSL_PORT}  redis 127.0.0.1:$REDIS_PORT  prometheus http://127.0.0.1:$PROM_PORT; logs: $LOGS)"
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
