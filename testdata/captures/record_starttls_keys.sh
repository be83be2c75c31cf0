#!/usr/bin/env bash
# Records STARTTLS sessions with their TLS key logs, on the loopback of a
# private network namespace (unshare -n), dovecot 2.3 as the server (the
# throwaway passwd-file user tester/secret of dovecot.sh) and curl as the
# client, writing its secrets to SSLKEYLOGFILE:
#   imap_dovecot_starttls_keys.pcap  curl --ssl-reqd imap://: CAPABILITY,
#        STARTTLS, then inside TLS CAPABILITY, AUTHENTICATE PLAIN, SELECT
#        INBOX, UID FETCH 1 BODY[] (the message in a literal), LOGOUT
#   pop3_dovecot_stls_keys.pcap      curl --ssl-reqd pop3://: CAPA, STLS,
#        then inside TLS CAPA, AUTH PLAIN, RETR 1, QUIT
#   smtp_python_starttls_keys.pcap   curl --ssl-reqd smtp:// to the small
#        stdlib SMTP server next to this script (smtp_starttls_server.py):
#        EHLO, STARTTLS, then inside TLS EHLO, MAIL, RCPT, DATA, QUIT
# with their key logs in ../keys/<name>.keys. Needs root, curl, tcpdump,
# openssl and Debian's dovecot-imapd and dovecot-pop3d. Then
# record_starttls_tshark.sh records tshark's decrypted bytes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
keys=$(cd "$here/../keys" && pwd)
work=$(mktemp -d); chmod 755 "$work"; trap 'rm -rf "$work"' EXIT
cd "$work"
cp "$here/dovecot.sh" "$here/smtp_starttls_server.py" .
openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 3650 -subj "/CN=sockscope.test" 2>/dev/null
cat > inner.sh <<'INNER'
set -u
ip link set lo up
printf 'From: a@sockscope.test\r\nTo: b@sockscope.test\r\nSubject: inside TLS\r\n\r\nline one\r\nline two\r\n' > message.txt
. ./dovecot.sh
session() { # proto port mechs url name
	dovecot_start "$1" "$2" "$3" message.txt
	rm -f "$KEYS/$5.keys"
	tcpdump -i lo -s 0 -U -w "$OUT/$5.pcap" "tcp port $2" 2>/dev/null & TP=$!
	sleep 1
	SSLKEYLOGFILE="$KEYS/$5.keys" timeout 10 curl -sk --ssl-reqd "$4" -o /dev/null || true
	sleep 1; kill $TP; wait $TP 2>/dev/null || true
	dovecot_stop
	sleep 1
}
session imap 1143 "plain login" 'imap://tester:secret@127.0.0.1:1143/INBOX;UID=1' imap_dovecot_starttls_keys
session pop3 1110 "plain" 'pop3://tester:secret@127.0.0.1:1110/1' pop3_dovecot_stls_keys
rm -f "$KEYS/smtp_python_starttls_keys.keys"
python3 smtp_starttls_server.py 2525 & SP=$!
tcpdump -i lo -s 0 -U -w "$OUT/smtp_python_starttls_keys.pcap" "tcp port 2525" 2>/dev/null & TP=$!
sleep 1
SSLKEYLOGFILE="$KEYS/smtp_python_starttls_keys.keys" timeout 10 curl -sk --ssl-reqd smtp://127.0.0.1:2525 \
	--mail-from a@sockscope.test --mail-rcpt b@sockscope.test -T message.txt || true
sleep 1; kill $TP; wait $TP 2>/dev/null || true
wait $SP 2>/dev/null || true
INNER
OUT=$here KEYS=$keys timeout 60 unshare -n bash inner.sh
chown root:root "$here"/*_keys.pcap 2>/dev/null || true
ls -l "$here"/*_keys.pcap "$keys"/*_keys.keys
