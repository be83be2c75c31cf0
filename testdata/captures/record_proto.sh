#!/usr/bin/env bash
# Records the binary-protocol captures: real servers and clients on the
# loopback of a private network namespace (unshare -n), captured with tcpdump.
#   pg_psql_query_error.pcap   psql: SELECT now(), an error (42P01), a
#                              2,000-row result set, then \q
#   pg_pgbench_extended.pcap   pgbench -M extended: Parse/Bind/Describe/Execute/Sync
#   pg_sslrequest_tls.pcap     psql sslmode=require (SSLRequest, 'S', then TLS)
#                              and sslmode=prefer against a server without SSL ('N')
#   mysql_query_error.pcap     mariadb client: greeting, login, SELECT 1, a
#                              2,000-row result set, an error (1146)
#   mqtt_v311_v5.pcap          mosquitto with mosquitto_sub/pub, MQTT 3.1.1 and 5
#   ssh_exec.pcap              ssh to a local sshd running one command
#   http_connect_tls.pcap      curl through tinyproxy (CONNECT) to openssl s_server -WWW
#   memcached_text_binary.pcap memccp/memccat, text protocol then binary, and "stats"
# Needs root, postgresql (15), mariadb-server/-client, mosquitto(-clients),
# openssh-server/-client, openssl, tinyproxy, memcached, libmemcached-tools,
# tcpdump. Then run record_tshark.sh on them
# and record_proto_tshark.sh for the message-level answers.
set -euo pipefail
out=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d); chmod 755 "$work"; trap 'rm -rf "$work"' EXIT
cd "$work"
pgbin=$(ls -d /usr/lib/postgresql/*/bin | tail -1)
openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 3650 -subj "/CN=sockscope.test" 2>/dev/null
chown postgres key.pem cert.pem; chmod 600 key.pem
cat > inner.sh <<'INNER'
set -u
ip link set lo up
cap() { tcpdump -i lo -s 0 -U -w "$1" "$2" 2>/dev/null & TP=$!; sleep 1; }
endcap() { sleep 1; kill $TP; wait $TP 2>/dev/null || true; }

# PostgreSQL, no SSL, password auth (md5 over the wire would hide nothing
# useful; trust keeps the exchange short).
mkdir -p pgdata; chown postgres pgdata
runuser -u postgres -- "$PGBIN/initdb" -D pgdata -A trust -U postgres >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D pgdata -o "-p 5433 -k $PWD/pgdata -c listen_addresses=127.0.0.1" -w -t 20 start >/dev/null
cap "$OUT/pg_psql_query_error.pcap" 'tcp port 5433'
timeout 20 psql -X -h 127.0.0.1 -p 5433 -U postgres -c 'SELECT now()' -c 'SELECT * FROM no_such_table' \
  -c 'SELECT g, md5(g::text) FROM generate_series(1,2000) g' postgres >/dev/null 2>&1 || true
endcap
timeout 20 pgbench -h 127.0.0.1 -p 5433 -U postgres -i -s 1 postgres >/dev/null 2>&1
cap "$OUT/pg_pgbench_extended.pcap" 'tcp port 5433'
timeout 20 pgbench -h 127.0.0.1 -p 5433 -U postgres -M extended -S -t 5 -c 1 -n postgres >/dev/null 2>&1
endcap
# With SSL on: SSLRequest answered 'S', then TLS. Then SSL off: 'N'.
cap "$OUT/pg_sslrequest_tls.pcap" 'tcp port 5433'
runuser -u postgres -- "$PGBIN/pg_ctl" -D pgdata -w -t 20 stop >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D pgdata -o "-p 5433 -k $PWD/pgdata -c listen_addresses=127.0.0.1 -c ssl=on -c ssl_cert_file=$PWD/cert.pem -c ssl_key_file=$PWD/key.pem" -w -t 20 start >/dev/null
timeout 20 psql -X "host=127.0.0.1 port=5433 user=postgres dbname=postgres sslmode=require" -c 'SELECT 1' >/dev/null 2>&1 || true
runuser -u postgres -- "$PGBIN/pg_ctl" -D pgdata -w -t 20 stop >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D pgdata -o "-p 5433 -k $PWD/pgdata -c listen_addresses=127.0.0.1" -w -t 20 start >/dev/null
timeout 20 psql -X "host=127.0.0.1 port=5433 user=postgres dbname=postgres sslmode=prefer" -c 'SELECT 2' >/dev/null 2>&1 || true
endcap
runuser -u postgres -- "$PGBIN/pg_ctl" -D pgdata -w -t 20 stop >/dev/null

# MariaDB, no grant tables (any login works), no SSL.
mkdir -p mydata
mariadb-install-db --datadir="$PWD/mydata" --user=root --auth-root-authentication-method=normal >/dev/null 2>&1
mkdir -p mydata/test
mariadbd --no-defaults --datadir="$PWD/mydata" --user=root --port=3307 --bind-address=127.0.0.1 \
  --socket="$PWD/my.sock" --skip-grant-tables --skip-ssl >/dev/null 2>&1 & MP=$!
for i in $(seq 1 100); do mariadb --no-defaults -h127.0.0.1 -P3307 -uroot --skip-ssl -e 'SELECT 0' >/dev/null 2>&1 && break; sleep 0.2; done
cap "$OUT/mysql_query_error.pcap" 'tcp port 3307'
timeout 20 mariadb --no-defaults -h127.0.0.1 -P3307 -uroot --skip-ssl -D test -e 'SELECT 1; SELECT seq, md5(seq) FROM seq_1_to_2000; SELECT * FROM mysql.no_such_table' >/dev/null 2>&1 || true
endcap
kill $MP; wait $MP 2>/dev/null || true

# Mosquitto: a subscriber waiting for 2 messages, then two publishers (3.1.1, 5).
printf 'listener 1884 127.0.0.1\nallow_anonymous true\n' > mosq.conf
mosquitto -c mosq.conf >/dev/null 2>&1 & QP=$!
sleep 0.5
cap "$OUT/mqtt_v311_v5.pcap" 'tcp port 1884'
timeout 10 mosquitto_sub -h 127.0.0.1 -p 1884 -V mqttv5 -t 'lab/#' -C 2 -q 1 >/dev/null & SUB=$!
sleep 0.5
timeout 5 mosquitto_pub -h 127.0.0.1 -p 1884 -V mqttv311 -t lab/temp -m '21.5' -q 1
timeout 5 mosquitto_pub -h 127.0.0.1 -p 1884 -V mqttv5 -t lab/door -m 'open' -q 0 -D publish user-property who sockscope
wait $SUB 2>/dev/null || true
endcap
kill $QP; wait $QP 2>/dev/null || true

# sshd on 2222 with a throwaway host key and client key.
ssh-keygen -q -t ed25519 -N '' -f hostkey; ssh-keygen -q -t ed25519 -N '' -f userkey
printf 'Port 2222\nListenAddress 127.0.0.1\nHostKey %s/hostkey\nAuthorizedKeysFile %s/userkey.pub\nPidFile %s/sshd.pid\nUsePAM no\nStrictModes no\nPermitRootLogin yes\n' "$PWD" "$PWD" "$PWD" > sshd_config
mkdir -p /run/sshd
/usr/sbin/sshd -f "$PWD/sshd_config" -D & SP=$!
sleep 0.5
cap "$OUT/ssh_exec.pcap" 'tcp port 2222'
timeout 10 ssh -F /dev/null -p 2222 -i userkey -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes root@127.0.0.1 'echo hello from sshd' >/dev/null 2>&1 || true
endcap
kill $SP; wait $SP 2>/dev/null || true

# tinyproxy on 8888 tunnels curl's HTTPS (CONNECT) to openssl s_server on 4433;
# only the client ↔ proxy leg is captured.
head -c 3000 /dev/zero | tr '\0' 'y' > page.html
printf 'Port 8888\nListen 127.0.0.1\nAllow 127.0.0.1\nConnectPort 4433\nMaxClients 5\nPidFile "%s/tinyproxy.pid"\n' "$PWD" > tinyproxy.conf
tinyproxy -d -c tinyproxy.conf >/dev/null 2>&1 & XP=$!
openssl s_server -quiet -accept 4433 -cert cert.pem -key key.pem -WWW >/dev/null 2>&1 & OP=$!
sleep 1
cap "$OUT/http_connect_tls.pcap" 'tcp port 8888'
timeout 10 curl -sk -x http://127.0.0.1:8888 https://127.0.0.1:4433/page.html -o /dev/null || true
endcap
kill $XP $OP; wait $XP $OP 2>/dev/null || true

# memcached: the text protocol (set/get/stats), then the binary one.
memcached -u root -l 127.0.0.1 -p 11212 -U 0 >/dev/null 2>&1 & MC=$!
sleep 0.5
printf 'hello memcached\n' > item.txt
cap "$OUT/memcached_text_binary.pcap" 'tcp port 11212'
timeout 5 memccp --servers=127.0.0.1:11212 item.txt || true
timeout 5 memccat --servers=127.0.0.1:11212 item.txt >/dev/null || true
printf 'stats slabs\r\nquit\r\n' | timeout 5 python3 -c '
import socket,sys
s=socket.create_connection(("127.0.0.1",11212)); s.sendall(sys.stdin.buffer.read()); s.settimeout(2)
try:
    while s.recv(65536): pass
except Exception: pass' || true
timeout 5 memccp --binary --servers=127.0.0.1:11212 item.txt || true
timeout 5 memccat --binary --servers=127.0.0.1:11212 item.txt >/dev/null || true
endcap
kill $MC; wait $MC 2>/dev/null || true
INNER
OUT=$out PGBIN=$pgbin timeout 240 unshare -n bash inner.sh
ls -l "$out"/pg_*.pcap "$out"/mysql_*.pcap "$out"/mqtt_*.pcap "$out"/ssh_*.pcap
