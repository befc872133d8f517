#!/usr/bin/env bash
# Installs what the local lastmile stack needs on a Debian machine, idempotently:
#   - redis-server, prometheus (+promtool), prometheus-alertmanager (+amtool), openssl (the
#     secured broker's certificates, LASTMILE_KAFKA_SASL_PORT) from apt,
#     without letting apt start them as system daemons (our stack runs its own, on 127.0.0.1);
#   - a Java runtime and Maven when missing;
#   - the jars of a pinned Apache Kafka broker, resolved from Maven Central with
#     deploy/local/kafka/pom.xml into ${LASTMILE_CACHE:-$HOME/.cache/lastmile}/kafka-<version>/libs;
#   - fonts-noto-cjk, chromium and poppler-utils from apt (review charts with Chinese labels,
#     `lastmile review --format pdf`, and the rendering test's pdftoppm / pdftotext);
#   - kustomize, built once by deploy/kubernetes/install-kustomize.sh with `go install` (the
#     Kubernetes manifest test renders deploy/kubernetes with it).
# Work already done is skipped (installed packages, a marker file next to the jars).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
POM="$HERE/kafka/pom.xml"
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM")"
CACHE="${LASTMILE_CACHE:-${HOME:-$(cd ~ && pwd)}/.cache/lastmile}"
KAFKA_HOME="$CACHE/kafka-$KAFKA_VERSION"
MARKER="$KAFKA_HOME/.installed"

say()  { echo "[install] $*"; }
die()  { echo "[install] ERROR: $*" >&2; exit 1; }

[[ -n "$KAFKA_VERSION" ]] || die "cannot read <kafka.version> from $POM"

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then SUDO=(sudo -n); else SUDO=(__no_root__); fi
fi
as_root() {
  [[ "${SUDO[0]:-}" == __no_root__ ]] && die "need root (or sudo) to run: $*  — rerun as root, or install it yourself"
  "${SUDO[@]}" "$@"
}

# ---------------------------------------------------------------- apt packages
# package -> a command it provides (checked with command -v, and dpkg for the package)
declare -A WANT=(
  [redis-server]=redis-server
  [redis-tools]=redis-cli
  [prometheus]=promtool
  [prometheus-alertmanager]=amtool
  [curl]=curl
  [openssl]=openssl
  [iproute2]=ip  # the network-partition fault tests (ip netns, veth)
)
missing=()
for pkg in "${!WANT[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
     || ! command -v "${WANT[$pkg]}" >/dev/null; then
    missing+=("$pkg")
  fi
done
java_major() { java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1; }
if ! command -v java >/dev/null || [[ "$(java_major)" -lt 11 ]]; then
  missing+=(openjdk-17-jre-headless)
fi
command -v mvn >/dev/null || missing+=(maven)

if ((${#missing[@]})); then
  command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get here: install them by hand"
  say "installing from apt: ${missing[*]}"
  # Keep apt from starting redis/prometheus/alertmanager as system daemons (SysV/invoke-rc.d path).
  POLICY=/usr/sbin/policy-rc.d
  made_policy=0
  if [[ ! -e $POLICY ]]; then
    as_root sh -c "printf '#!/bin/sh\n# lastmile install.sh: no daemon starts during apt\nexit 101\n' > $POLICY && chmod 755 $POLICY"
    made_policy=1
  fi
  cleanup_policy() { [[ $made_policy -eq 1 ]] && as_root rm -f "$POLICY"; made_policy=0; }
  trap cleanup_policy EXIT
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -q || die "apt-get update failed: check the network / apt sources"
  as_root apt-get install -y -q --no-install-recommends "${missing[@]}" \
    || die "apt-get install ${missing[*]} failed (see above); fix apt and rerun $0"
  cleanup_policy
  trap - EXIT

  # If apt started them anyway (systemd path), stop and disable them: the stack runs its own.
  for svc in redis-server prometheus prometheus-alertmanager; do
    if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
      as_root systemctl disable --now "$svc" >/dev/null 2>&1 || true
    else
      if [[ -x /etc/init.d/$svc ]]; then
        as_root /etc/init.d/"$svc" stop >/dev/null 2>&1 || true
        command -v update-rc.d >/dev/null && as_root update-rc.d "$svc" disable >/dev/null 2>&1 || true
      fi
    fi
  done
else
  say "apt packages present (redis-server, redis-tools, prometheus, prometheus-alertmanager, curl, openssl, iproute2, java, mvn)"
fi

# ---------------------------------------------------------------- review rendering
# `lastmile review` draws its charts with a CJK font and prints `--format pdf` with Debian's
# headless Chromium; the rendering test reads the PDF back with poppler's pdftoppm/pdftotext.
review_missing=()
for pkg in fonts-noto-cjk chromium poppler-utils; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || review_missing+=("$pkg")
done
if ((${#review_missing[@]})); then
  command -v apt-get >/dev/null || die "missing ${review_missing[*]} and no apt-get here: install them by hand"
  say "installing from apt: ${review_missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -q || die "apt-get update failed: check the network / apt sources"
  as_root apt-get install -y -q --no-install-recommends "${review_missing[@]}" \
    || die "apt-get install ${review_missing[*]} failed (see above); fix apt and rerun $0"
else
  say "apt packages present (fonts-noto-cjk, chromium, poppler-utils)"
fi

# ---------------------------------------------------------------- Kafka jars
pom_sum="$(sha256sum "$POM" | cut -d' ' -f1)"
if [[ -f "$MARKER" && "$(cat "$MARKER")" == "$pom_sum" ]] && compgen -G "$KAFKA_HOME/libs/kafka_2.13-$KAFKA_VERSION.jar" >/dev/null; then
  say "Kafka $KAFKA_VERSION already in $KAFKA_HOME/libs"
else
  say "resolving Apache Kafka $KAFKA_VERSION jars from Maven Central into $KAFKA_HOME/libs"
  mkdir -p "$KAFKA_HOME"
  tmp="$(mktemp -d "$KAFKA_HOME/libs.tmp.XXXXXX")"
  # (sed: Maven 3.8 prints stray colour codes even with -B -q)
  if ! mvn -q -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$tmp" -Dmdep.useRepositoryLayout=false 2>&1 \
        | sed -u 's/\x1b\[[0-9;]*m//g'; then
    rm -rf "$tmp"
    die "mvn could not resolve org.apache.kafka:kafka_2.13:$KAFKA_VERSION — check that Maven Central is reachable (mvn -v, ~/.m2/settings.xml) and rerun $0"
  fi
  [[ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ]] || { rm -rf "$tmp"; die "kafka_2.13-$KAFKA_VERSION.jar missing after mvn; see output above"; }
  rm -rf "$KAFKA_HOME/libs"
  mv "$tmp" "$KAFKA_HOME/libs"
  echo "$pom_sum" > "$MARKER"
  say "Kafka $KAFKA_VERSION: $(ls "$KAFKA_HOME/libs" | wc -l) jars in $KAFKA_HOME/libs"
fi
# ---------------------------------------------------------------- kustomize
kustomize_bin="$(bash "$HERE/../kubernetes/install-kustomize.sh")" \
  || die "could not build kustomize (see above); rerun $0"
say "kustomize: $kustomize_bin"
say "ok"
