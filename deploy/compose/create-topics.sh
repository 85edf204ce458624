#!/bin/sh
# The compose file's one-shot topic-init: create every topic of the catalogue
# (topics.txt, generated from shared/contracts/topics.json) with its partitions and config,
# using the Kafka image's own kafka-topics.sh. Safe to run again: existing topics are kept.
set -eu
bootstrap="${KAFKA_BOOTSTRAP:-kafka:9092}"
topics_file="${TOPICS_FILE:-/opora/topics.txt}"
kafka_topics="${KAFKA_TOPICS_SH:-/opt/kafka/bin/kafka-topics.sh}"

grep -v '^#' "$topics_file" | while read -r name partitions config; do
  [ -n "$name" ] || continue
  set -- --bootstrap-server "$bootstrap" --create --if-not-exists --topic "$name" \
    --partitions "$partitions" --replication-factor 1
  for setting in $(echo "$config" | tr ',' ' '); do
    set -- "$@" --config "$setting"
  done
  "$kafka_topics" "$@"
done
echo "topics:"
"$kafka_topics" --bootstrap-server "$bootstrap" --list
