#!/usr/bin/env bash
# Records imap_dovecot_starttls.pcap on the loopback of a private network
# namespace: curl imap:// against dovecot 2.3 (passwd-file user
# tester/secret, throwaway): one session in the clear (CAPABILITY, LOGIN,
# SELECT INBOX, FETCH 1 BODY[] — the message comes back in a literal —,
# LOGOUT), then one with --ssl-reqd (STARTTLS, then TLS). Needs root, curl,
# tcpdump, openssl and Debian's dovecot-imapd. Then run record_tshark.sh and
# record_proto_tshark.sh on it.
set -euo pipefail
out=$(cd "$(dirname "$0")" && pwd)/imap_dovecot_starttls.pcap
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d); chmod 755 "$work"; trap 'rm -rf "$work"' EXIT
cd "$work"
cp "$here/dovecot.sh" .
openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 3650 -subj "/CN=sockscope.test" 2>/dev/null
cat > inner.sh <<'INNER'
set -u
ip link set lo up
printf 'From: a@sockscope.test\r\nTo: b@sockscope.test\r\nSubject: imap literal\r\n\r\nline one\r\nline two\r\n' > message.txt
. ./dovecot.sh
dovecot_start imap 1143 "plain login" message.txt
tcpdump -i lo -s 0 -U -w "$OUT" 'tcp port 1143' 2>/dev/null & TP=$!
sleep 1
timeout 10 curl -s 'imap://tester:secret@127.0.0.1:1143/INBOX;UID=1' -o /dev/null || true
timeout 10 curl -sk --ssl-reqd 'imap://tester:secret@127.0.0.1:1143/INBOX;UID=1' -o /dev/null || true
sleep 1; kill $TP; wait $TP 2>/dev/null || true
dovecot_stop
INNER
OUT=$out timeout 60 unshare -n bash inner.sh
ls -l "$out"
