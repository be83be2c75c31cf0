#!/usr/bin/env bash
# Records the command/reply captures on the loopback of a private network
# namespace (unshare -n), each with a real server and curl as the client:
#   smtp_curl_python.pcap   curl smtp:// sends a message to Python's smtpd
#                           DebuggingServer (EHLO, MAIL, RCPT, DATA, QUIT)
#   ftp_curl_pyftpdlib.pcap curl ftp:// lists a directory and fetches a file
#                           from pyftpdlib (anonymous, passive; the data
#                           connections are captured too)
#   pop3_dovecot_stls.pcap  curl pop3:// against dovecot: one session in the
#                           clear (CAPA, USER/PASS, LIST, RETR 1, QUIT) and one
#                           with --ssl-reqd (STLS, then TLS)
# Needs root, curl, tcpdump, openssl, Debian's python3-pyftpdlib and
# dovecot-pop3d, and a python3 (3.11 or older) with the smtpd module.
# Then run record_tshark.sh and record_proto_tshark.sh on them.
set -euo pipefail
out=$(cd "$(dirname "$0")" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d); chmod 755 "$work"; trap 'rm -rf "$work"' EXIT
cd "$work"
cp "$here/dovecot.sh" .
openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 3650 -subj "/CN=sockscope.test" 2>/dev/null
cat > inner.sh <<'INNER'
set -u
ip link set lo up
cap() { tcpdump -i lo -s 0 -U -w "$1" "$2" 2>/dev/null & TP=$!; sleep 1; }
endcap() { sleep 1; kill $TP; wait $TP 2>/dev/null || true; }

python3 -W ignore -m smtpd -n -c DebuggingServer 127.0.0.1:2525 >/dev/null 2>&1 & SP=$!
sleep 1
printf 'From: a@sockscope.test\r\nTo: b@sockscope.test\r\nSubject: framing test\r\n\r\nline one\r\n.leading dot\r\nlast line\r\n' > mail.txt
cap "$OUT/smtp_curl_python.pcap" 'tcp port 2525'
timeout 10 curl -s smtp://127.0.0.1:2525 --mail-from a@sockscope.test --mail-rcpt b@sockscope.test -T mail.txt || true
endcap
kill $SP; wait $SP 2>/dev/null || true

mkdir -p ftproot; head -c 5000 /dev/zero | tr '\0' 'f' > ftproot/file.txt
/usr/bin/python3 -m pyftpdlib -i 127.0.0.1 -p 2121 -d ftproot >/dev/null 2>&1 & FP=$!
sleep 1
cap "$OUT/ftp_curl_pyftpdlib.pcap" 'tcp'
timeout 10 curl -s ftp://127.0.0.1:2121/ -o /dev/null || true
timeout 10 curl -s ftp://127.0.0.1:2121/file.txt -o /dev/null || true
endcap
kill $FP; wait $FP 2>/dev/null || true

. ./dovecot.sh
dovecot_start pop3 1110 "plain" mail.txt
cap "$OUT/pop3_dovecot_stls.pcap" 'tcp port 1110'
timeout 10 curl -s pop3://tester:secret@127.0.0.1:1110/ -o /dev/null || true
timeout 10 curl -s pop3://tester:secret@127.0.0.1:1110/1 -o /dev/null || true
timeout 10 curl -sk --ssl-reqd pop3://tester:secret@127.0.0.1:1110/1 -o /dev/null || true
endcap
dovecot_stop
INNER
OUT=$out timeout 120 unshare -n bash inner.sh
ls -l "$out"/smtp_*.pcap "$out"/ftp_*.pcap "$out"/pop3_*.pcap
