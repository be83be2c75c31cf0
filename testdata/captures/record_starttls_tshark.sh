#!/usr/bin/env bash
# Records tshark's decrypted application data (Follow TLS Stream) of the
# STARTTLS captures of record_starttls_keys.sh into
# ../tshark/starttls/NAME.tshark.c2s and .s2c: the bytes inside TLS after
# the switch, per direction. Needs tshark (4.0.17 recorded them) and python3.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
split=$here/../../decode/tlsdec/testdata/tshark_follow.py
out=$here/../tshark/starttls
mkdir -p "$out"
for x in imap_dovecot_starttls_keys:1143 pop3_dovecot_stls_keys:1110 smtp_python_starttls_keys:2525 pg_sslrequest_tls_keys:5433 http_connect_tls_keys:8888 ftp_auth_tls_keys:2121; do
	name=${x%%:*} port=${x##*:}
	tshark -r "$here/$name.pcap" -o "tls.keylog_file:$here/../keys/$name.keys" -q -z follow,tls,raw,0 2>/dev/null |
		python3 "$split" "$port" "$out/$name.tshark"
done
ls -l "$out"
