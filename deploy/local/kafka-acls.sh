#!/usr/bin/env bash
# kafka-acls.sh for the local stack: Apache Kafka's ACL tool (org.apache.kafka.tools.AclCommand)
# from the jars install.sh resolved, exactly as the kafka-acls.sh of a Kafka tarball runs it.
#   bash deploy/local/kafka-acls.sh --bootstrap-server 127.0.0.1:PORT --command-config FILE --list
# `lastmile carrier-acls --carrier CODE` prints the commands a carrier's feed needs.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$HERE/kafka/pom.xml")"
KAFKA_LIBS="${LASTMILE_CACHE:-${HOME:-$(cd ~ && pwd)}/.cache/lastmile}/kafka-$KAFKA_VERSION/libs"
[[ -f "$KAFKA_LIBS/kafka-tools-$KAFKA_VERSION.jar" ]] || { echo "kafka-acls: no Kafka jars in $KAFKA_LIBS; run deploy/local/install.sh" >&2; exit 1; }
exec java -Xmx128m -XX:TieredStopAtLevel=1 -Dlog4j2.configurationFile="file:$HERE/kafka/tools-log4j2.properties" \
  -cp "$KAFKA_LIBS/*" org.apache.kafka.tools.AclCommand "$@"
