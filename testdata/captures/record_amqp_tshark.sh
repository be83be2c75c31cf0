#!/usr/bin/env bash
# Records tshark's AMQP dissection of amqp_pika_rabbitmq.pcap (record_amqp.sh)
# into tshark/amqp_pika_rabbitmq.pcap.msgs.tsv: per frame, its TCP stream
# and source port, and for every AMQP frame tshark completed in it (comma-
# separated) its type, channel, payload length, and for method frames the
# class and method ids. Needs tshark (decode-as amqp on port 5673).
set -euo pipefail
cd "$(dirname "$0")/.."
f=amqp_pika_rabbitmq.pcap
tshark -n -r "captures/$f" -d tcp.port==5673,amqp -T fields -E header=y -E occurrence=a -E aggregator=, \
  -e frame.number -e tcp.stream -e tcp.srcport -e amqp.type -e amqp.channel -e amqp.length \
  -e amqp.method.class -e amqp.method.method 2>/dev/null > "tshark/$f.msgs.tsv"
echo "recorded $f.msgs.tsv"
