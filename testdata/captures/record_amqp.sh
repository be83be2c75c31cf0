#!/usr/bin/env bash
# Records amqp_pika_rabbitmq.pcap: RabbitMQ 3.10 (Debian's rabbitmq-server)
# on 127.0.0.1:5673 and a python3-pika 1.2 client in a private network
# namespace (unshare -n), captured with tcpdump: the handshake
# (protocol header, Connection.Start/Tune/Open; the client asks for
# frame_max 8192), Queue.Declare, two Basic.Publish (11 bytes; 20,000 bytes,
# whose body is split into three content body frames), Basic.Get and
# Get-Ok, Basic.Consume with its Deliver and Ack, a passive
# Queue.Declare of a missing queue (Channel.Close 404), Connection.Close.
# Needs root, rabbitmq-server, python3-pika (Debian's /usr/bin/python3) and
# tcpdump; then run record_tshark.sh and record_amqp_tshark.sh on it.
set -euo pipefail
out=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d); chmod 755 "$work"; trap 'rm -rf "$work"' EXIT
cd "$work"
cat > client.py <<'PY'
import pika
c = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", 5673, heartbeat=0, frame_max=8192))
ch = c.channel()
ch.queue_declare("framing")
ch.basic_publish("", "framing", b"hello amqp!")
ch.basic_publish("", "framing", b"a" * 20000)
m, p, body = ch.basic_get("framing", auto_ack=True)
print("get", len(body))
for m, p, body in ch.consume("framing", inactivity_timeout=2):
    if m is None:
        break
    print("deliver", len(body))
    ch.basic_ack(m.delivery_tag)
    break
ch.cancel()
try:
    ch.queue_declare("no-such-queue", passive=True)
except pika.exceptions.ChannelClosedByBroker as e:
    print("closed", e.reply_code)
c.close()
PY
cat > inner.sh <<'INNER'
set -u
ip link set lo up
export HOME=$PWD RABBITMQ_NODENAME=rabbit@localhost RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=5673 \
  RABBITMQ_MNESIA_BASE=$PWD/mnesia RABBITMQ_LOG_BASE=$PWD/log RABBITMQ_PID_FILE=$PWD/rabbit.pid RABBITMQ_ENABLED_PLUGINS_FILE=$PWD/plugins
mkdir -p mnesia log; : > plugins; chown -R rabbitmq "$PWD"
runuser -u rabbitmq -- env HOME=$PWD epmd -address 127.0.0.1 & EP=$!
sleep 0.5
runuser -u rabbitmq -- env HOME=$PWD /usr/lib/rabbitmq/bin/rabbitmq-server >/dev/null 2>&1 & RS=$!
for i in $(seq 1 120); do (exec 3<>/dev/tcp/127.0.0.1/5673) 2>/dev/null && break; sleep 0.5; done
sleep 1
tcpdump -i lo -s 0 -U -w "$OUT/amqp_pika_rabbitmq.pcap" 'tcp port 5673' 2>/dev/null & TP=$!
sleep 1
timeout 20 /usr/bin/python3 client.py
sleep 1; kill $TP; wait $TP 2>/dev/null || true
runuser -u rabbitmq -- env HOME=$PWD /usr/lib/rabbitmq/bin/rabbitmqctl -n rabbit@localhost stop >/dev/null 2>&1 || kill $RS
wait $RS 2>/dev/null || true
kill $EP; wait $EP 2>/dev/null || true
INNER
OUT=$out timeout 120 unshare -n bash inner.sh
ls -l "$out"/amqp_*.pcap
