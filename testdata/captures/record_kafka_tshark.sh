#!/usr/bin/env bash
# Records tshark's Kafka dissection of kafka_franz_kfake.pcap (record_kafka.sh)
# into tshark/kafka_franz_kfake.pcap.msgs.tsv: per frame, its TCP stream and
# source port, and for every Kafka message tshark completed in it (comma-
# separated) its size field (kafka.len), the api key of a request
# (kafka.request_key) or the one tshark paired a response with
# (kafka.response_key), the request's api version, the correlation id and
# the topic names (kafka.topic_name).
# Needs tshark (decode-as kafka on port 19092).
set -euo pipefail
cd "$(dirname "$0")/.."
f=kafka_franz_kfake.pcap
tshark -n -r "captures/$f" -d tcp.port==19092,kafka -T fields -E header=y -E occurrence=a -E aggregator=, \
  -e frame.number -e tcp.stream -e tcp.srcport -e kafka.len -e kafka.request_key -e kafka.response_key \
  -e kafka.api_version -e kafka.correlation_id -e kafka.topic_name 2>/dev/null > "tshark/$f.msgs.tsv"
echo "recorded $f.msgs.tsv"
