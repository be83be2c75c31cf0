#!/usr/bin/env bash
# Records pg_sslrequest_tls_keys.pcap on the loopback of a private network
# namespace: PostgreSQL 15 with ssl=on (trust auth) and pg_ssl_client.py,
# next to this script, as the client (libpq before 18 writes no key log):
# SSLRequest, 'S', then inside TLS a StartupMessage, one simple Query and
# Terminate; the client's TLS secrets go to ../keys/pg_sslrequest_tls_keys.keys.
# Needs root, postgresql 15, tcpdump, openssl, python3. Then
# record_starttls_tshark.sh records tshark's decrypted bytes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
keys=$(cd "$here/../keys" && pwd)
work=$(mktemp -d); chmod 755 "$work"; trap 'rm -rf "$work"' EXIT
cd "$work"
cp "$here/pg_ssl_client.py" .
pgbin=$(ls -d /usr/lib/postgresql/*/bin | tail -1)
openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 3650 -subj "/CN=sockscope.test" 2>/dev/null
chown postgres key.pem cert.pem; chmod 600 key.pem
cat > inner.sh <<'INNER'
set -u
ip link set lo up
mkdir -p pgdata; chown postgres pgdata
runuser -u postgres -- "$PGBIN/initdb" -D pgdata -A trust -U postgres >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D pgdata -o "-p 5433 -k $PWD/pgdata -c listen_addresses=127.0.0.1 -c ssl=on -c ssl_cert_file=$PWD/cert.pem -c ssl_key_file=$PWD/key.pem" -w -t 20 start >/dev/null
rm -f "$KEYS/pg_sslrequest_tls_keys.keys"
tcpdump -i lo -s 0 -U -w "$OUT/pg_sslrequest_tls_keys.pcap" 'tcp port 5433' 2>/dev/null & TP=$!
sleep 1
timeout 20 python3 pg_ssl_client.py 127.0.0.1 5433 "$KEYS/pg_sslrequest_tls_keys.keys" "SELECT g, md5(g::text) FROM generate_series(1,50) g" || true
sleep 1; kill $TP; wait $TP 2>/dev/null || true
runuser -u postgres -- "$PGBIN/pg_ctl" -D pgdata -w -t 20 stop >/dev/null
INNER
OUT=$here KEYS=$keys PGBIN=$pgbin timeout 90 unshare -n bash inner.sh
chown root:root "$here/pg_sslrequest_tls_keys.pcap"
ls -l "$here/pg_sslrequest_tls_keys.pcap" "$keys/pg_sslrequest_tls_keys.keys"
