#!/usr/bin/env bash
# Records tshark's message-level dissection of the binary-protocol captures
# (record_proto.sh) into tshark/<capture>.msgs.tsv: per frame, its TCP stream,
# source port and the protocol's per-message fields, every occurrence in the
# frame, comma-separated (a frame can carry several messages; a message
# split across frames is listed in the frame that completes it). Needs tshark.
set -euo pipefail
cd "$(dirname "$0")/.."
rec() { # capture, decode-as, fields...
  local f=$1 as=$2; shift 2
  local args=(); for e in "$@"; do args+=(-e "$e"); done
  tshark -n -r "captures/$f" -d "$as" -T fields -E header=y -E occurrence=a -E aggregator=, \
    -e frame.number -e tcp.stream -e tcp.srcport "${args[@]}" 2>/dev/null > "tshark/$f.msgs.tsv"
  echo "recorded $f.msgs.tsv"
}
for f in pg_psql_query_error.pcap pg_pgbench_extended.pcap pg_sslrequest_tls.pcap; do
  rec "$f" tcp.port==5433,pgsql pgsql.type pgsql.length
done
rec mysql_query_error.pcap tcp.port==3307,mysql mysql.packet_length mysql.packet_number mysql.command mysql.response_code
rec mqtt_v311_v5.pcap tcp.port==1884,mqtt mqtt.msgtype mqtt.len mqtt.topic
rec ssh_exec.pcap tcp.port==2222,ssh ssh.protocol ssh.packet_length ssh.message_code ssh.packet_length_encrypted
# The TLS records inside the CONNECT tunnel (tshark follows the tunnel too).
rec http_connect_tls.pcap tcp.port==8888,http tls.record.content_type tls.record.length
rec memcached_text_binary.pcap tcp.port==11212,memcache memcache.command memcache.response memcache.opcode memcache.magic
rec smtp_curl_python.pcap tcp.port==2525,smtp smtp.req.command smtp.response.code
rec ftp_curl_pyftpdlib.pcap tcp.port==2121,ftp ftp.request.command ftp.response.code
rec pop3_dovecot_stls.pcap tcp.port==1110,pop pop.request.command pop.response.indicator
rec imap_dovecot_starttls.pcap tcp.port==1143,imap imap.isrequest imap.tag imap.command imap.response.status
